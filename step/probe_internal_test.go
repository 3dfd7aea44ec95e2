package step

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/verdicts"
)

var _ = Describe("a running reader that holds its own copy of the file", func() {
	It("is judged once as the target is opened, its copy released, while a mapped one reads every state", func(ctx SpecContext) {
		dir := GinkgoT().TempDir()
		pair, err := fixtures.Generate(ctx, fixtures.Spec{Size: 1 << 20, Shape: fixtures.Shrink}, filepath.Join(dir, "cache"))
		Expect(err).NotTo(HaveOccurred())
		var regs []readers.Registration
		for _, n := range []string{"mmap", "bytes"} {
			r, err := readers.Builtin().Lookup(n)
			Expect(err).NotTo(HaveOccurred())
			regs = append(regs, r)
		}
		page := os.Getpagesize()
		old, err := loadVersion("A", pair.A, page)
		Expect(err).NotTo(HaveOccurred())
		defer old.f.Close()
		nw, err := loadVersion("B", pair.B, page)
		Expect(err).NotTo(HaveOccurred())
		defer nw.f.Close()
		a, err := os.ReadFile(pair.A)
		Expect(err).NotTo(HaveOccurred())
		b, err := os.ReadFile(pair.B)
		Expect(err).NotTo(HaveOccurred())
		target := filepath.Join(dir, "db.mmdb")
		Expect(os.WriteFile(target, a, 0o644)).To(Succeed())

		p := newProber(target, old, nw, regs, pair.Universe, 64, 1)
		Expect(p.open()).To(Succeed())
		defer p.close()
		Expect(p.running[1]).To(BeNil(), "the bytes reader's copy of A is released before any probe makes one")
		Expect(p.running[0]).NotTo(BeNil(), "the mapped reader keeps reading the file as it is")
		first := p.observe()
		Expect(first.readers[1].Running.Lookups).To(BeNumerically(">", 0), "it was judged")

		// Tear the file in place: B's first half over A's.
		f, err := os.OpenFile(target, os.O_WRONLY, 0)
		Expect(err).NotTo(HaveOccurred())
		_, err = f.WriteAt(b[:len(b)/2], 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(f.Close()).To(Succeed())

		torn := p.observe()
		Expect(torn.readers[1].Running).To(Equal(first.readers[1].Running), "its own copy of A did not change")
		Expect(torn.readers[1].Running.Verdict).To(Equal(verdicts.Safe))
		Expect(torn.readers[0].Running.Verdict).NotTo(Equal(verdicts.Safe), "the mapping shows the torn file")
	})
})
