package powerloss_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/powerloss"
	"github.com/mapchaos/mapchaos/step"
)

// recording is a real directory updated by the spec itself, recorded call
// by call as the step runner would: no ptrace is needed to check the
// models on what the calls leave.
type recording struct {
	dir, target, a, b string
	rec               *powerloss.Recorder
	n                 int
}

// newRecording lays out A (3 pages and a bit) at the target and B (2 pages
// and a bit) beside it, and starts recording.
func newRecording() *recording {
	root := GinkgoT().TempDir()
	r := &recording{dir: filepath.Join(root, "data"), a: filepath.Join(root, "A"), b: filepath.Join(root, "B")}
	r.target = filepath.Join(r.dir, "db.mmdb")
	Expect(os.MkdirAll(r.dir, 0o755)).To(Succeed())
	Expect(os.WriteFile(r.a, pattern('a', 3*4096+100), 0o644)).To(Succeed())
	Expect(os.WriteFile(r.b, pattern('b', 2*4096+10), 0o644)).To(Succeed())
	Expect(os.WriteFile(r.target, pattern('a', 3*4096+100), 0o644)).To(Succeed())
	var err error
	r.rec, err = powerloss.NewRecorder(r.target, r.a, r.b)
	Expect(err).NotTo(HaveOccurred())
	r.rec.OnCall(nil)
	return r
}

// pattern is n bytes that differ from page to page and between versions.
func pattern(v byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = v + byte(i/4096)
	}
	return b
}

// did records the state after a mutating call the spec just made.
func (r *recording) did(text string) {
	r.n++
	r.rec.OnCall(&step.Call{N: r.n, Name: "x", Class: step.Mutating, Text: text})
}

// synced records a barrier on name (relative to the directory).
func (r *recording) synced(name string) {
	r.n++
	r.rec.OnCall(&step.Call{N: r.n, Name: "fsync", Class: step.Barrier, Text: `fsync("` + name + `")`})
}

// renameNoFsync is `curl -o db.mmdb.tmp && mv db.mmdb.tmp db.mmdb`, with
// fsyncs of the file and the directory when sync is set.
func (r *recording) renameNoFsync(sync bool) {
	tmp := r.target + ".tmp"
	Expect(os.WriteFile(tmp, nil, 0o644)).To(Succeed())
	r.did(`openat("db.mmdb.tmp", O_WRONLY|O_CREAT|O_TRUNC, 0644)`)
	Expect(os.WriteFile(tmp, pattern('b', 2*4096+10), 0o644)).To(Succeed())
	r.did(`write("db.mmdb.tmp", 8202 bytes)`)
	if sync {
		r.synced("db.mmdb.tmp")
	}
	Expect(os.Rename(tmp, r.target)).To(Succeed())
	r.did(`renameat("db.mmdb.tmp", "db.mmdb")`)
	if sync {
		r.synced(".")
	}
}

// names builds every explored state and returns what the target is in each.
func (r *recording) names(m powerloss.Model) []string {
	t := powerloss.NewTrace(r.rec)
	ex, err := powerloss.Explore(context.Background(), t, m, 64, 7)
	Expect(err).NotTo(HaveOccurred())
	open := func(target string) (*step.Restarter, error) {
		return step.NewRestarter(step.RestartConfig{Target: target, Old: r.a, New: r.b, OldName: "A", NewName: "B"})
	}
	js, err := powerloss.Judge(context.Background(), t, ex, filepath.Join(filepath.Dir(r.dir), "states"), "db.mmdb", open, 2, false)
	Expect(err).NotTo(HaveOccurred())
	Expect(js).To(HaveLen(len(ex.States)))
	Expect(filepath.Join(filepath.Dir(r.dir), "states", "w0")).NotTo(BeADirectory(), "each state's directory is removed once judged")
	var out []string
	for _, j := range js {
		if !slices.Contains(out, j.Name) {
			out = append(out, j.Name)
		}
	}
	slices.Sort(out)
	return out
}

var _ = Describe("models", func() {
	It("posix: a rename without fsync can leave the target empty or zero-filled", func() {
		r := newRecording()
		r.renameNoFsync(false)
		Expect(r.names(powerloss.Posix{})).To(ContainElements("whole A", "whole B", "empty", "zero-filled", "torn"))
	})

	It("ext4-ordered: a rename over a file without fsync can leave zeros, never an empty file", func() {
		r := newRecording()
		r.renameNoFsync(false)
		names := r.names(powerloss.Ext4Ordered{})
		Expect(names).To(ContainElements("whole A", "whole B", "zero-filled"))
		Expect(names).NotTo(ContainElement("empty"))
	})

	It("finds whole A or whole B only once the file and the directory are fsynced, under both models", func() {
		for _, m := range powerloss.Models() {
			r := newRecording()
			r.renameNoFsync(true)
			Expect(r.names(m)).To(Equal([]string{"whole A", "whole B"}), m.Name())
		}
	})

	It("posix: an unsynced directory loses a new file's name; an fsynced one keeps it", func() {
		r := newRecording()
		Expect(os.Remove(r.target)).To(Succeed())
		r.did(`unlinkat("db.mmdb")`)
		Expect(r.names(powerloss.Posix{})).To(Equal([]string{"missing", "whole A"}))
		r.synced(".")
		t := powerloss.NewTrace(r.rec)
		ex, err := powerloss.Explore(context.Background(), t, powerloss.Posix{}, 64, 7)
		Expect(err).NotTo(HaveOccurred())
		last := 0
		for _, s := range ex.States {
			last = max(last, s.K)
		}
		Expect(last).To(Equal(2))
	})

	It("counts the states and draws the same ones for the same seed", func() {
		r := newRecording()
		r.renameNoFsync(false)
		t := powerloss.NewTrace(r.rec)
		a, err := powerloss.Explore(context.Background(), t, powerloss.Posix{}, 4, 3)
		Expect(err).NotTo(HaveOccurred())
		b, err := powerloss.Explore(context.Background(), t, powerloss.Posix{}, 4, 3)
		Expect(err).NotTo(HaveOccurred())
		Expect(a.Exist.Int64()).To(BeNumerically(">", 4))
		Expect(a.Sampled).To(BeTrue())
		Expect(a.States).To(HaveLen(4))
		// ext4-ordered tears only whole blocks: few enough states to find them all.
		all, err := powerloss.Explore(context.Background(), t, powerloss.Ext4Ordered{}, 1000, 3)
		Expect(err).NotTo(HaveOccurred())
		Expect(all.Sampled).To(BeFalse(), "fewer distinct states than the bound: every one found")
		Expect(len(all.States)).To(BeNumerically(">", 4))
		for i := range a.States {
			Expect(t.Lost(a.States[i])).To(Equal(t.Lost(b.States[i])))
		}
		Expect(powerloss.Count(a.Exist)).To(Equal(a.Exist.String()))
	})

	It("posix: an unsynced overwrite may tear a block inside, sector by sector; ext4-ordered tears whole blocks", func() {
		r := newRecording()
		f, err := os.OpenFile(r.target, os.O_WRONLY, 0)
		Expect(err).NotTo(HaveOccurred())
		_, err = f.WriteAt(pattern('b', 2*4096+10), 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(f.Close()).To(Succeed())
		r.did(`pwrite64("db.mmdb", 8202 bytes, 0)`)
		a, b := pattern('a', 3*4096+100), pattern('b', 2*4096+10)
		// sectorTorn: some block holds sectors of A and of B.
		sectorTorn := func(m powerloss.Model) bool {
			t := powerloss.NewTrace(r.rec)
			ex, err := powerloss.Explore(context.Background(), t, m, 64, 7)
			Expect(err).NotTo(HaveOccurred())
			for i, st := range ex.States {
				dir, err := t.Build(st, filepath.Join(GinkgoT().TempDir(), fmt.Sprint(i)))
				Expect(err).NotTo(HaveOccurred())
				got, err := os.ReadFile(filepath.Join(dir, "db.mmdb"))
				Expect(err).NotTo(HaveOccurred())
				for p := 0; p+4096 <= min(len(got), len(b)); p += 4096 {
					var fromA, fromB bool
					for s := p; s < p+4096; s += 512 {
						fromA = fromA || bytes.Equal(got[s:s+512], a[s:s+512])
						fromB = fromB || bytes.Equal(got[s:s+512], b[s:s+512])
					}
					if fromA && fromB {
						return true
					}
				}
			}
			return false
		}
		Expect(sectorTorn(powerloss.Posix{})).To(BeTrue(), "no state tore a block inside under posix")
		Expect(sectorTorn(powerloss.Ext4Ordered{})).To(BeFalse(), "ext4-ordered tears whole blocks only")
	})

	It("names an unknown model", func() {
		_, err := powerloss.ModelNamed("zfs")
		Expect(err).To(MatchError(`unknown persistence model "zfs": want posix or ext4-ordered`))
	})
})
