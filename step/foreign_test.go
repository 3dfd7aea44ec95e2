package step_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/internal/foreigntest"
	"github.com/mapchaos/mapchaos/internal/proctest"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/results"
	"github.com/mapchaos/mapchaos/step"
	"github.com/mapchaos/mapchaos/verdicts"
)

// python is the example foreign reader of readers/foreign as a registration.
func python() readers.Registration {
	GinkgoHelper()
	r, err := readers.Foreign("python", foreigntest.RequirePythonReader(".."))
	Expect(err).NotTo(HaveOccurred())
	return r
}

var _ = Describe("stepping with a foreign reader (Python, libmaxminddb mmap) probed at every stop", Serial, Label("ptrace", "foreign"), func() {
	It("cp: the process mapped before the update is killed by SIGBUS at the truncating open", func(ctx SpecContext) {
		py := python()
		seq := stepBuiltin(ctx, "cp", fx.Shrink, func(c *step.Config) { c.Readers = []readers.Registration{py} })
		st := seq.Unsafe()
		Expect(call(seq, st).Text).To(ContainSubstring("O_TRUNC"))
		ro, ok := st.Reader("python")
		Expect(ok).To(BeTrue())
		Expect(ro.Running.Verdict).To(Equal(verdicts.Crash))
		Expect(ro.Running.Died).To(Equal("killed by SIGBUS"), "read from the wait status of the real process")
		Expect(ro.Running.Signal).To(Equal("SIGBUS"))
		Expect(ro.Starting.Verdict).To(Equal(verdicts.Degraded), "a reader starting on an empty file cannot open it")
		Expect(ro.Starting.OpenErrors).To(BeEquivalentTo(1))

		before, ok := seq.States[0].Reader("python")
		Expect(ok).To(BeTrue())
		Expect(before.Running.Verdict).To(Equal(verdicts.Safe))
		Expect(before.Running.Right).To(Equal(before.Running.Lookups), "every answer checked by the harness")
		Expect(before.Running.Lookups).To(BeNumerically(">", 100))

		res := step.Result("cp", "python", []step.Update{{Label: "A->B", Seq: seq}}, "repro")
		Expect(res.Verdict).To(Equal(verdicts.Crash))
		Expect(res.Evidence.Role).To(Equal(results.Running))
		Expect(res.Evidence.ExitStatus).To(Equal("killed by SIGBUS"))
		Expect(res.Evidence.Signal).To(Equal("SIGBUS"))
		Expect(res.Evidence.SignalNumber).To(Equal(7))
		Expect(res.Evidence.Code).To(Equal("BUS_ADRERR"))
		Expect(res.Evidence.Step).To(Equal(st.N))
		Expect(proctest.Mentioning("mmdb_reader.py")).To(BeEmpty(), "every reader process was reaped")
	})

	It("rename: every answer right in every state, in both roles", func(ctx SpecContext) {
		py := python()
		seq := stepBuiltin(ctx, "rename", fx.Shrink, func(c *step.Config) { c.Readers = []readers.Registration{py} })
		Expect(seq.Unsafe()).To(BeNil())
		for _, st := range seq.States {
			ro, ok := st.Reader("python")
			Expect(ok).To(BeTrue())
			Expect(ro.Running.Verdict).To(Equal(verdicts.Safe), st.Line())
			Expect(ro.Starting.Verdict).To(Equal(verdicts.Safe), st.Line())
			Expect(ro.Starting.Right).To(Equal(ro.Starting.Lookups))
		}
		Expect(proctest.Mentioning("mmdb_reader.py")).To(BeEmpty(), "every reader process was reaped")
	})
})
