package powerloss_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/powerloss"
)

var _ = Describe("posix's Allows", func() {
	// updates are the recorded updates the specs check the model on.
	updates := map[string]func(r *recording){
		"rename without fsync": func(r *recording) { r.renameNoFsync(false) },
		"rename with fsyncs":   func(r *recording) { r.renameNoFsync(true) },
		"in-place overwrite with a smaller version": func(r *recording) {
			f, err := os.OpenFile(r.target, os.O_WRONLY, 0)
			Expect(err).NotTo(HaveOccurred())
			_, err = f.WriteAt(pattern('b', 2*4096+10), 0)
			Expect(err).NotTo(HaveOccurred())
			r.did(`pwrite64("db.mmdb", 8202 bytes, 0)`)
			Expect(f.Truncate(2*4096 + 10)).To(Succeed())
			r.did(`ftruncate("db.mmdb", 8202)`)
			Expect(f.Close()).To(Succeed())
		},
	}
	// snapshot records files laid out as a replay of the target's
	// directory, as the kernel check records a mounted replay.
	snapshot := func(r *recording, files map[string][]byte) powerloss.Recipe {
		root := GinkgoT().TempDir()
		d := filepath.Join(root, "data")
		Expect(os.MkdirAll(d, 0o755)).To(Succeed())
		for n, b := range files {
			Expect(os.WriteFile(filepath.Join(d, n), b, 0o644)).To(Succeed())
		}
		s, err := r.rec.Snapshot(filepath.Dir(r.dir), root)
		Expect(err).NotTo(HaveOccurred())
		return s
	}
	// allowsAfterRenameNoFsync records a rename without fsync and returns
	// whether posix allows a replay that left files (name: bytes).
	allowsAfterRenameNoFsync := func() func(files map[string][]byte) bool {
		r := newRecording()
		r.renameNoFsync(false)
		t := powerloss.NewTrace(r.rec)
		return func(files map[string][]byte) bool {
			_, _, ok := powerloss.Posix{}.Allows(t, snapshot(r, files))
			return ok
		}
	}

	for name, update := range updates {
		It("allows every state the model itself makes, after "+name, func() {
			r := newRecording()
			update(r)
			t := powerloss.NewTrace(r.rec)
			m := powerloss.Posix{}
			rng := rand.New(rand.NewPCG(5, 6))
			n := 0
			for k := range t.Points {
				states := m.Corners(t, k)
				for range 40 {
					states = append(states, m.Random(t, k, rng))
				}
				for i, s := range states {
					got, _, ok := m.Allows(t, s)
					Expect(ok).To(BeTrue(), "state %d of point %d (%s)", i, k, t.Lost(s))
					Expect(got).To(BeNumerically("<=", k), "the first crash point that allows it")
					n++
				}
			}
			ex, err := powerloss.Explore(context.Background(), t, m, 64, 7)
			Expect(err).NotTo(HaveOccurred())
			for _, s := range ex.States {
				_, _, ok := m.Allows(t, s)
				Expect(ok).To(BeTrue(), "explored state after point %d", s.K)
			}
			Expect(n).To(BeNumerically(">", 40))
		})
	}

	It("allows, after a rename without fsync, A, B, empty, zeros and B's sectors torn with zeros, as a replay records them", func() {
		allows := allowsAfterRenameNoFsync()
		a, b := pattern('a', 3*4096+100), pattern('b', 2*4096+10)
		Expect(allows(map[string][]byte{"db.mmdb": a})).To(BeTrue(), "whole A")
		Expect(allows(map[string][]byte{"db.mmdb": b})).To(BeTrue(), "whole B")
		Expect(allows(map[string][]byte{"db.mmdb": nil})).To(BeTrue(), "empty: the new file's name persisted, its data not")
		Expect(allows(map[string][]byte{"db.mmdb": make([]byte, len(b))})).To(BeTrue(), "B's size, zeros")
		Expect(allows(map[string][]byte{"db.mmdb": a, "db.mmdb.tmp": b[:4096]})).To(BeTrue(), "the temp file left, a block of B")
		torn := append([]byte{}, b...)
		clear(torn[512:1024])
		Expect(allows(map[string][]byte{"db.mmdb": torn})).To(BeTrue(), "one sector of B's first block not written")
	})

	It("refuses, after a rename without fsync, bytes never written, a mix of A and B in one file, and a name the trace never had", func() {
		allows := allowsAfterRenameNoFsync()
		a, b := pattern('a', 3*4096+100), pattern('b', 2*4096+10)
		Expect(allows(map[string][]byte{"db.mmdb": pattern('z', len(b))})).To(BeFalse(), "a version never written")
		mixed := append(append([]byte{}, b[:4096]...), a[4096:]...)
		Expect(allows(map[string][]byte{"db.mmdb": mixed})).To(BeFalse(), "A is never written over: no file holds both")
		sectors := append([]byte{}, b...)
		copy(sectors[512:1024], a[512:1024])
		Expect(allows(map[string][]byte{"db.mmdb": sectors})).To(BeFalse(), "a sector of A in B's block")
		Expect(allows(map[string][]byte{"db.mmdb": append(append([]byte{}, b...), 0)})).To(BeFalse(), "a size no version had nor passed")
		Expect(allows(map[string][]byte{"db.mmdb": a, "other": nil})).To(BeFalse(), "a name the trace never had")
		Expect(allows(map[string][]byte{})).To(BeFalse(), "no target: the target always had a durable name")
	})

	It("names the point whose names the state holds", func() {
		r := newRecording()
		r.renameNoFsync(false)
		t := powerloss.NewTrace(r.rec)
		k, m, ok := powerloss.Posix{}.Allows(t, snapshot(r, map[string][]byte{"db.mmdb": pattern('b', 2*4096+10)}))
		Expect(ok).To(BeTrue())
		Expect(t.Points[m].Call).To(ContainSubstring("renameat"))
		Expect(k).To(Equal(m), "B at the target: the first crash point with the rename done")
	})
})
