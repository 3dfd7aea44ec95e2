package matchers_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"

	"github.com/mapchaos/mapchaos/matchers"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/results"
	"github.com/mapchaos/mapchaos/verdicts"
)

var crashed = results.Result{Writer: "cp", Reader: "mmap", Verdict: verdicts.Crash, Updates: 3,
	Evidence: &results.Evidence{Outcome: verdicts.Crash, Reader: "running-1", Signal: "SIGBUS", SignalNumber: 7,
		Code: "BUS_ADRERR", Addr: "0x7f00dead0000", WriterStep: "update 1 of 3 (A->B), step 1: openat(db.mmdb, O_WRONLY|O_TRUNC)",
		Repro: "mapchaos matrix --writers cp --readers mmap --seed 42"}}

var safe = results.Result{Writer: "rename", Reader: "mmap", Verdict: verdicts.Safe}

var _ = DescribeTable("verdict matchers",
	func(actual any, m types.GomegaMatcher, want bool) {
		ok, err := m.Match(actual)
		Expect(err).NotTo(HaveOccurred())
		Expect(ok).To(Equal(want))
	},
	Entry("Crash on a crash", crashed, matchers.Crash(), true),
	Entry("Crash on a safe result", safe, matchers.Crash(), false),
	Entry("BeSafe on a safe result", safe, matchers.BeSafe(), true),
	Entry("BeSafe on a pointer to a crash", &crashed, matchers.BeSafe(), false),
	Entry("HaveVerdict with a set", crashed, matchers.HaveVerdict(verdicts.Corrupt, verdicts.Crash), true),
	Entry("BeNoWorseThan degraded on safe", safe, matchers.BeNoWorseThan(verdicts.Degraded), true),
	Entry("BeNoWorseThan corrupt on crash", crashed, matchers.BeNoWorseThan(verdicts.Corrupt), false),
	Entry("a report entry", reports.Entry{Result: crashed, Expected: "crash", Met: true}, matchers.Crash(), true),
)

var _ = Describe("failure messages", func() {
	It("show the observed verdict and the evidence", func() {
		failures := InterceptGomegaFailures(func() {
			Expect(crashed).To(matchers.BeSafe())
		})
		Expect(failures).To(HaveLen(1))
		Expect(failures[0]).To(And(
			ContainSubstring("Expected the verdict to be safe, but observed crash"),
			ContainSubstring("SIGBUS (7) BUS_ADRERR"),
			ContainSubstring("0x7f00dead0000"),
			ContainSubstring("openat(db.mmdb, O_WRONLY|O_TRUNC)"),
			ContainSubstring("mapchaos matrix --writers cp --readers mmap --seed 42"),
		))
	})
	It("say what was not wanted when negated", func() {
		failures := InterceptGomegaFailures(func() {
			Expect(crashed).NotTo(matchers.Crash())
		})
		Expect(failures).To(ConsistOf(ContainSubstring("Expected the verdict not to be crash, but observed crash")))
	})
	It("name a set of verdicts", func() {
		failures := InterceptGomegaFailures(func() {
			Expect(safe).To(matchers.HaveVerdict(verdicts.Degraded, verdicts.Corrupt))
		})
		Expect(failures).To(ConsistOf(ContainSubstring("to be one of degraded, corrupt, but observed safe")))
	})
})

var _ = Describe("the wrong kind of actual", func() {
	It("is an error, not a silent mismatch", func() {
		_, err := matchers.Crash().Match("crash")
		Expect(err).To(MatchError(ContainSubstring("expect a race result")))
	})
})
