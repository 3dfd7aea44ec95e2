package engine_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/engine"
	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/matchers"
)

// ownPair treats the generated files as a team's own pair: the oracle is
// then a lookup in pristine copies, not the records' self-check.
func ownPair() fixtures.Pair {
	p, err := fixtures.LoadPair(env.Pair.A, env.Pair.B, 3)
	Expect(err).NotTo(HaveOccurred())
	Expect(p.Own()).To(BeTrue())
	return p
}

var _ = Describe("racing a user's own pair", func() {
	DescribeTable("judges every answer against pristine copies of both files",
		func(ctx SpecContext, writer, reader string, safe bool) {
			cfg := config(writer, reader)
			cfg.Pair = ownPair()
			res, err := engine.Run(ctx, cfg)
			Expect(err).NotTo(HaveOccurred())
			if safe {
				Expect(res).To(matchers.BeSafe())
				Expect(res.Answers.Right).To(Equal(res.Lookups))
			} else {
				Expect(res).To(matchers.Crash())
				Expect(res.Evidence.Code).To(Equal("BUS_ADRERR"))
			}
		},
		Entry("rename x bytes", "rename", "bytes", true),
		Entry("rename x mmap-v2", "rename", "mmap-v2", true),
		Entry("cp x mmap", "cp", "mmap", false),
	)

	It("checks a foreign reader's JSON answers against them too", func(ctx SpecContext) {
		cfg := foreignConfig("rename", pythonReader()...)
		cfg.Pair = ownPair()
		res, err := engine.Run(ctx, cfg)
		Expect(err).NotTo(HaveOccurred())
		Expect(res).To(matchers.BeSafe())
		Expect(res.Lookups).To(BeNumerically(">", 100))
	})
})
