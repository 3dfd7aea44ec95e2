package engine_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/engine"
	"github.com/mapchaos/mapchaos/internal/foreigntest"
	"github.com/mapchaos/mapchaos/internal/proctest"
	"github.com/mapchaos/mapchaos/matchers"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/results"
	"github.com/mapchaos/mapchaos/verdicts"
)

// foreignConfig races writer against a foreign reader command.
func foreignConfig(writer string, argv ...string) engine.Config {
	cfg := config(writer, "mmap")
	reg, err := readers.Foreign("exec", argv)
	Expect(err).NotTo(HaveOccurred())
	cfg.Reader = reg
	return cfg
}

// pythonReader is the example foreign reader shipped in readers/foreign.
func pythonReader() []string { return foreigntest.RequirePythonReader("..") }

var _ = Describe("a foreign reader (Python, libmaxminddb mmap) over the line protocol", func() {
	It("dies by SIGBUS itself under cp: a crash read from its wait status", func(ctx SpecContext) {
		res, err := engine.Run(ctx, foreignConfig("cp", pythonReader()...))
		Expect(err).NotTo(HaveOccurred())
		Expect(res).To(matchers.Crash())
		Expect(res.Evidence.Signal).To(Equal("SIGBUS"), "evidence: %v\nstderr: %s", res.Evidence, res.Evidence.Stderr)
		Expect(res.Evidence.ExitStatus).To(HavePrefix("killed by SIGBUS"))
		Expect(res.Evidence.LastLookups).NotTo(BeEmpty())
	})

	It("is safe under rename, every answer checked by the harness", func(ctx SpecContext) {
		res, err := engine.Run(ctx, foreignConfig("rename", pythonReader()...))
		Expect(err).NotTo(HaveOccurred())
		Expect(res).To(matchers.BeSafe())
		Expect(res.Answers.Right).To(Equal(res.Lookups))
		Expect(res.Lookups).To(BeNumerically(">", 100))
		Expect(res.Roles[results.Starting].Readers).To(Equal(8))
	})
})

var _ = Describe("a foreign reader that breaks the protocol", func() {
	DescribeTable("before it starts properly: ErrBadReader, naming the problem",
		func(ctx SpecContext, script, msg string) {
			cfg := foreignConfig("rename", "sh", "-c", script, "sh", "{target}")
			cfg.ReadyTimeout = 500 * time.Millisecond
			_, err := engine.Run(ctx, cfg)
			Expect(err).To(MatchError(engine.ErrBadReader))
			Expect(err.Error()).To(ContainSubstring(msg))
			Expect(proctest.Mentioning(cfg.Dir)).To(BeEmpty())
		},
		Entry("never says ready", "sleep 30", "did not say ready"),
		Entry("says something else", `echo "hello there"; sleep 30`, `first line "hello there", want "ready"`),
		Entry("exits at once", `echo "cannot open $1" >&2; exit 1`, "ended before saying ready (exited with status 1); stderr ends: cannot open"),
	)

	It("after starting properly: a crash verdict with the garbage as evidence", func(ctx SpecContext) {
		cfg := foreignConfig("rename", "sh", "-c", `echo ready; read line; echo "what?"; sleep 30`, "sh", "{target}")
		cfg.Starting = -1
		res, err := engine.Run(ctx, cfg)
		Expect(err).NotTo(HaveOccurred())
		Expect(res).To(matchers.HaveVerdict(verdicts.Crash))
		Expect(res.Evidence.Detail).To(MatchRegexp(`broke the line protocol after starting properly: \(answered lookup \S+ with "what\?"\): killed by the harness`))
	})

	It("rejects a command without {target}", func() {
		_, err := readers.Foreign("exec", []string{"python3", "reader.py"})
		Expect(err).To(MatchError(ContainSubstring("no {target} argument")))
		_, err = readers.Foreign("exec", nil)
		Expect(err).To(MatchError(ContainSubstring("empty")))
	})
})
