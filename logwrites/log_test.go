package logwrites_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/logwrites"
)

// logBuilder writes a log as drivers/md/dm-log-writes.c lays it out: the
// super block in the first sector, then each entry's header in a sector
// of its own (a mark's name after the header), followed by its data.
type logBuilder struct {
	buf     bytes.Buffer
	entries uint64
	ss      int
}

func newLog(ss int) *logBuilder {
	b := &logBuilder{ss: ss}
	b.buf.Write(make([]byte, ss))
	return b
}

func (b *logBuilder) entry(sector, flags uint64, data []byte, mark string) {
	b.discard(sector, uint64(len(data)/b.ss), flags, data, mark)
}

// discard writes an entry of sectors sectors (a discard's have no data).
func (b *logBuilder) discard(sector, sectors, flags uint64, data []byte, mark string) {
	h := make([]byte, b.ss)
	le := binary.LittleEndian
	le.PutUint64(h[0:], sector)
	le.PutUint64(h[8:], sectors)
	le.PutUint64(h[16:], flags)
	le.PutUint64(h[24:], uint64(len(mark)))
	copy(h[32:], mark)
	b.buf.Write(h)
	b.buf.Write(data)
	b.entries++
}

func (b *logBuilder) write(path string) {
	out := b.buf.Bytes()
	le := binary.LittleEndian
	le.PutUint64(out[0:], logwrites.Magic)
	le.PutUint64(out[8:], logwrites.Version)
	le.PutUint64(out[16:], b.entries)
	le.PutUint32(out[24:], uint32(b.ss))
	Expect(os.WriteFile(path, out, 0o644)).To(Succeed())
}

func fill(c byte, n int) []byte { return bytes.Repeat([]byte{c}, n) }

var _ = Describe("a dm-log-writes log", func() {
	var dir, path string

	BeforeEach(func() {
		dir = GinkgoT().TempDir()
		path = filepath.Join(dir, "log.img")
		b := newLog(512)
		b.entry(0, 0, fill('a', 1024), "")                                       // 1: write sectors 0-1
		b.entry(0, logwrites.FlagFlush, nil, "")                                 // 2: flush
		b.entry(0, logwrites.FlagMark, nil, "start")                             // 3: mark
		b.entry(1, logwrites.FlagFUA|logwrites.FlagMetadata, fill('b', 512), "") // 4: FUA sector 1
		b.discard(0, 2, logwrites.FlagDiscard, nil, "")                          // 5: discard (no data)
		b.entry(3, 0, fill('c', 512), "")                                        // 6: write sector 3
		b.write(path)
	})

	It("reads every entry, its kind, and the marks", func() {
		l, err := logwrites.Open(path)
		Expect(err).NotTo(HaveOccurred())
		defer l.Close()
		Expect(l.SectorSize).To(Equal(uint32(512)))
		Expect(l.Entries).To(HaveLen(6))
		var kinds []string
		for _, e := range l.Entries {
			kinds = append(kinds, e.Kind())
		}
		Expect(kinds).To(Equal([]string{"write", "flush", "mark start", "fua+metadata write", "discard", "write"}))
		Expect(l.Entry(4).Barrier()).To(BeTrue())
		Expect(l.Entry(6).Barrier()).To(BeFalse())
		i, ok := l.MarkIndex("start")
		Expect(ok).To(BeTrue())
		Expect(i).To(Equal(3))
		Expect(l.MarkBefore(5)).To(Equal("start"))
		Expect(l.MarkBefore(2)).To(Equal(""))
	})

	It("replays to any entry, in order, onto copies that do not change the cursor", func() {
		l, err := logwrites.Open(path)
		Expect(err).NotTo(HaveOccurred())
		defer l.Close()
		Expect(os.MkdirAll(filepath.Join(dir, "replay"), 0o755)).To(Succeed())
		rp, err := logwrites.NewReplayer(l, filepath.Join(dir, "replay"), 4096)
		Expect(err).NotTo(HaveOccurred())
		defer rp.Close()
		img, err := rp.Image(context.Background(), 1)
		Expect(err).NotTo(HaveOccurred())
		got, _ := os.ReadFile(img)
		Expect(got[:1024]).To(Equal(fill('a', 1024)))
		Expect(os.WriteFile(img, fill('x', 4096), 0o644)).To(Succeed()) // a mount writes to its copy
		img, err = rp.Image(context.Background(), 4)
		Expect(err).NotTo(HaveOccurred())
		got, _ = os.ReadFile(img)
		Expect(got[:512]).To(Equal(fill('a', 512)))
		Expect(got[512:1024]).To(Equal(fill('b', 512)))
		img, err = rp.Image(context.Background(), 6)
		Expect(err).NotTo(HaveOccurred())
		got, _ = os.ReadFile(img)
		Expect(got[:1024]).To(Equal(make([]byte, 1024)), "the discard of sectors 0-1 reads back as zeros")
		Expect(got[1536:2048]).To(Equal(fill('c', 512)))
		_, err = rp.Image(context.Background(), 2)
		Expect(err).To(MatchError(ContainSubstring("ask in order")))
	})

	It("replays a flush's state with only some of the writes after it", func() {
		l, err := logwrites.Open(path)
		Expect(err).NotTo(HaveOccurred())
		defer l.Close()
		Expect(os.MkdirAll(filepath.Join(dir, "replay"), 0o755)).To(Succeed())
		rp, err := logwrites.NewReplayer(l, filepath.Join(dir, "replay"), 4096)
		Expect(err).NotTo(HaveOccurred())
		defer rp.Close()
		img, err := rp.ImageKeeping(context.Background(), 4, []int{6})
		Expect(err).NotTo(HaveOccurred())
		got, _ := os.ReadFile(img)
		Expect(got[:512]).To(Equal(fill('a', 512)), "the discard (entry 5) was lost")
		Expect(got[512:1024]).To(Equal(fill('b', 512)))
		Expect(got[1536:2048]).To(Equal(fill('c', 512)), "entry 6 was kept")
		img, err = rp.Image(context.Background(), 5)
		Expect(err).NotTo(HaveOccurred())
		got, _ = os.ReadFile(img)
		Expect(got[1536:2048]).To(Equal(make([]byte, 512)), "the cursor never saw entry 6")
	})

	It("refuses what is not a log, naming what is wrong", func() {
		Expect(os.WriteFile(path, make([]byte, 4096), 0o644)).To(Succeed())
		_, err := logwrites.Open(path)
		Expect(err).To(MatchError(ContainSubstring("not a dm-log-writes log")))
	})

	It("refuses a log whose entries run past its end", func() {
		b := newLog(512)
		b.entry(0, 0, fill('a', 1024), "")
		b.write(path)
		data, _ := os.ReadFile(path)
		Expect(os.WriteFile(path, data[:1024], 0o644)).To(Succeed())
		_, err := logwrites.Open(path)
		Expect(err).To(MatchError(ContainSubstring("past the end of the log")))
	})
})
