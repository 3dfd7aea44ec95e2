package powerloss_test

import (
	"context"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/logwrites"
	"github.com/mapchaos/mapchaos/powerloss"
)

var _ = Describe("ext4-ordered's Allows, on a directory recorded as a replay of the kernel's is", func() {
	// snapshot records dir as the kernel check records a mounted replay.
	snapshot := func(r *recording, dir string) powerloss.Recipe {
		s, err := r.rec.Snapshot(filepath.Dir(r.dir), dir)
		Expect(err).NotTo(HaveOccurred())
		return s
	}
	// replay makes a directory like the target's, holding name with data.
	replay := func(files map[string][]byte) string {
		root := GinkgoT().TempDir()
		d := filepath.Join(root, "data")
		Expect(os.MkdirAll(d, 0o755)).To(Succeed())
		for n, b := range files {
			Expect(os.WriteFile(filepath.Join(d, n), b, 0o644)).To(Succeed())
		}
		return root
	}

	It("allows every state the model itself explores, and names its crash point", func() {
		r := newRecording()
		r.renameNoFsync(false)
		t := powerloss.NewTrace(r.rec)
		ex, err := powerloss.Explore(context.Background(), t, powerloss.Ext4Ordered{}, 64, 7)
		Expect(err).NotTo(HaveOccurred())
		for _, s := range ex.States {
			_, _, ok := powerloss.Ext4Ordered{}.Allows(t, s)
			Expect(ok).To(BeTrue(), "state after point %d", s.K)
		}
	})

	It("allows whole A, whole B and B zero-filled after an unsynced rename; refuses an empty target and bytes of neither", func() {
		r := newRecording()
		r.renameNoFsync(false)
		t := powerloss.NewTrace(r.rec)
		allows := func(files map[string][]byte) bool {
			_, _, ok := powerloss.Ext4Ordered{}.Allows(t, snapshot(r, replay(files)))
			return ok
		}
		Expect(allows(map[string][]byte{"db.mmdb": pattern('a', 3*4096+100)})).To(BeTrue(), "whole A")
		Expect(allows(map[string][]byte{"db.mmdb": pattern('b', 2*4096+10)})).To(BeTrue(), "whole B")
		Expect(allows(map[string][]byte{"db.mmdb": make([]byte, 2*4096+10)})).To(BeTrue(), "B's size, zeros: auto_da_alloc")
		Expect(allows(map[string][]byte{"db.mmdb": nil})).To(BeFalse(), "empty: the model says auto_da_alloc never leaves it")
		Expect(allows(map[string][]byte{"db.mmdb": pattern('z', 2*4096+10)})).To(BeFalse(), "bytes of neither version")
		Expect(allows(map[string][]byte{})).To(BeFalse(), "no target: no point of the trace has none")
	})
})

var _ = Describe("ext4-ordered's Allows after an in-place overwrite with a smaller version", func() {
	It("allows the old size with B's partial last page merged into A's, written back alone", func() {
		r := newRecording()
		a, b := pattern('a', 3*4096+100), pattern('b', 2*4096+10)
		f, err := os.OpenFile(r.target, os.O_WRONLY, 0)
		Expect(err).NotTo(HaveOccurred())
		_, err = f.WriteAt(b, 0)
		Expect(err).NotTo(HaveOccurred())
		r.did(`pwrite64("db.mmdb", 8202 bytes, 0)`)
		Expect(f.Truncate(int64(len(b)))).To(Succeed())
		r.did(`ftruncate("db.mmdb", 8202)`)
		Expect(f.Close()).To(Succeed())
		t := powerloss.NewTrace(r.rec)
		merged := append(append(append([]byte{}, a[:2*4096]...), b[2*4096:]...), a[2*4096+10:]...)
		root := GinkgoT().TempDir()
		Expect(os.MkdirAll(filepath.Join(root, "data"), 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(root, "data", "db.mmdb"), merged, 0o644)).To(Succeed())
		s, err := r.rec.Snapshot(filepath.Dir(r.dir), root)
		Expect(err).NotTo(HaveOccurred())
		_, _, ok := powerloss.Ext4Ordered{}.Allows(t, s)
		Expect(ok).To(BeTrue())

		// The kernel check found this one: the truncation zeroes the new
		// last block past the new end, and that block reaches the disk
		// before the smaller size does.
		zeroed := append(append(append([]byte{}, a[:2*4096]...), b[2*4096:]...), make([]byte, 4096-10)...)
		zeroed = append(zeroed, a[3*4096:]...)
		Expect(os.WriteFile(filepath.Join(root, "data", "db.mmdb"), zeroed, 0o644)).To(Succeed())
		s, err = r.rec.Snapshot(filepath.Dir(r.dir), root)
		Expect(err).NotTo(HaveOccurred())
		_, _, ok = powerloss.Ext4Ordered{}.Allows(t, s)
		Expect(ok).To(BeTrue(), "A's size, B's tail and zeros in the new last page")
	})
})

var _ = Describe("a kernel state in the model", func() {
	It("keeps the crash point the model found, so that what it lost reads against that point", func() {
		r := newRecording()
		r.renameNoFsync(false)
		t := powerloss.NewTrace(r.rec)
		root := GinkgoT().TempDir()
		Expect(os.MkdirAll(filepath.Join(root, "data"), 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(root, "data", "db.mmdb"), pattern('b', 2*4096+10), 0o644)).To(Succeed())
		s, err := r.rec.Snapshot(filepath.Dir(r.dir), root)
		Expect(err).NotTo(HaveOccurred())
		path := filepath.Join(GinkgoT().TempDir(), "log.img")
		writeLog(path, []uint64{logwrites.FlagMark, 0, logwrites.FlagFlush})
		l, err := logwrites.Open(path)
		Expect(err).NotTo(HaveOccurred())
		defer l.Close()
		for _, m := range []powerloss.Checker{powerloss.Posix{}, powerloss.Ext4Ordered{}} {
			ks := powerloss.KernelStateOf(t, l, m, s, 3)
			Expect(ks.InModel).To(BeTrue())
			Expect(ks.K).To(Equal(3), "whole B: first after the rename, point 3")
			Expect(t.Lost(ks.Recipe)).To(Equal("nothing"), "whole B at the target after the rename lost nothing")
		}
	})
})
