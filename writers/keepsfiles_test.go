package writers_test

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/writers"
)

var _ = Describe("KeepsFiles", func() {
	// held hard-links every regular file of dir into a directory of its
	// own and returns what each held: the inodes survive whatever the
	// writer does to their names.
	held := func(dir string) map[string][]byte {
		GinkgoHelper()
		keep := GinkgoT().TempDir()
		out := map[string][]byte{}
		ents, err := os.ReadDir(dir)
		Expect(err).NotTo(HaveOccurred())
		for _, e := range ents {
			if !e.Type().IsRegular() {
				continue
			}
			p := filepath.Join(keep, e.Name())
			Expect(os.Link(filepath.Join(dir, e.Name()), p)).To(Succeed())
			b, err := os.ReadFile(p)
			Expect(err).NotTo(HaveOccurred())
			out[p] = b
		}
		return out
	}

	It("is promised by exactly the writers whose updates leave every old file's bytes as they were", func(ctx SpecContext) {
		for _, s := range writers.Builtin().All() {
			f := newFixture(300<<10, 200<<10)
			Expect(writers.Install(f.target, f.pathA, s.Properties)).To(Succeed())
			kept := true
			for seq, src := range []string{f.pathB, f.pathA, f.pathB} {
				before := held(f.db)
				Expect(s.Writer.Update(ctx, writers.Update{Target: f.target, Source: src, Seq: seq + 1})).To(Succeed(), s.Name)
				for p, b := range before {
					now, err := os.ReadFile(p)
					Expect(err).NotTo(HaveOccurred())
					kept = kept && string(now) == string(b)
				}
			}
			Expect(kept).To(Equal(s.KeepsFiles), "%s: old files kept their bytes: %v, KeepsFiles: %v", s.Name, kept, s.KeepsFiles)
		}
	})
})
