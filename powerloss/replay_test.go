package powerloss_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/logwrites"
	"github.com/mapchaos/mapchaos/powerloss"
)

// writeLog writes a dm-log-writes log of 512-byte sectors whose entries
// have the given flags, each a one-sector write at its own sector (flags
// with FlagMark: a mark "m").
func writeLog(path string, flags []uint64) {
	le := binary.LittleEndian
	out := make([]byte, 512)
	for i, f := range flags {
		h := make([]byte, 512)
		le.PutUint64(h[0:], uint64(i))
		n := uint64(1)
		if f&(logwrites.FlagMark) != 0 || f == logwrites.FlagFlush {
			n = 0
		}
		le.PutUint64(h[8:], n)
		le.PutUint64(h[16:], f)
		if f&logwrites.FlagMark != 0 {
			le.PutUint64(h[24:], 1)
			h[32] = 'm'
		}
		out = append(out, h...)
		out = append(out, make([]byte, 512*n)...)
	}
	le.PutUint64(out[0:], logwrites.Magic)
	le.PutUint64(out[8:], logwrites.Version)
	le.PutUint64(out[16:], uint64(len(flags)))
	le.PutUint32(out[24:], 512)
	Expect(os.WriteFile(path, out, 0o644)).To(Succeed())
}

var _ = Describe("the kernel check's replays", func() {
	It("visit the mark, every barrier and the end, and leave out only writes since the last flush, in an order the cursor can serve", func() {
		path := filepath.Join(GinkgoT().TempDir(), "log.img")
		const w, fl, fua, mark = 0, logwrites.FlagFlush, logwrites.FlagFUA, logwrites.FlagMark
		writeLog(path, []uint64{w, fl, mark, w, w, w, fl, w, fua, w, w, fl | fua, w, w})
		l, err := logwrites.Open(path)
		Expect(err).NotTo(HaveOccurred())
		defer l.Close()
		entries, bases, lost := powerloss.ReplayOrder(l, 3, 6, 42)
		Expect(slices.IsSorted(bases)).To(BeTrue(), "the cursor only moves forward")
		for _, want := range []int{3, 7, 9, 12, 14} {
			Expect(entries).To(ContainElement(want))
		}
		subsets := 0
		for i := range entries {
			if lost[i] == nil {
				Expect(bases[i]).To(Equal(entries[i]))
				continue
			}
			subsets++
			Expect(lost[i]).NotTo(BeEmpty())
			for _, j := range lost[i] {
				Expect(j).To(BeNumerically(">", bases[i]))
				Expect(j).To(BeNumerically("<=", entries[i]))
				Expect(l.Entry(j).Flags&logwrites.FlagFUA).To(BeZero(), "a FUA write is on disk once it completes")
			}
			Expect(l.Entry(bases[i]).Flags&logwrites.FlagFlush != 0 || bases[i] == 3).To(BeTrue(), "a subset starts at a flush or the mark")
		}
		Expect(subsets).To(BeNumerically(">", 0))
		again, _, _ := powerloss.ReplayOrder(l, 3, 6, 42)
		Expect(again).To(Equal(entries), "the same seed, the same replays")
	})
})
