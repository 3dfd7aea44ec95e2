package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/config"
	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/matrix"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/step"
	"github.com/mapchaos/mapchaos/writers"
)

// Where ptrace is not allowed, --mode step must say so plainly and race
// instead. The refusal is injected: this machine allows ptrace.
var _ = Describe("--mode step where ptrace is not allowed", Ordered, func() {
	var self string
	BeforeAll(func() {
		var err error
		self, err = gexec.Build("github.com/mapchaos/mapchaos/cmd/mapchaos")
		Expect(err).NotTo(HaveOccurred())
	})

	It("falls back to race mode, with a warning on stderr and in the report", func(ctx SpecContext) {
		dir := GinkgoT().TempDir()
		cfgPath := filepath.Join(dir, "ginkgo.yml")
		Expect(os.WriteFile(cfgPath, []byte(`
fixture: {size: 256KiB, shape: shrink}
race: {updates: 2, running_readers: 1, starting_readers: 1, reload: 20ms, gap: 20ms, seed: 5}
writers: [rename]
readers: [mmap]
expect:
  - {writer: rename, reader: mmap, verdict: safe, why: "atomic"}
`), 0o644)).To(Succeed())
		cfg, err := config.Load(cfgPath)
		Expect(err).NotTo(HaveOccurred())
		plan, err := matrix.Resolve(cfg, writers.Builtin(), readers.Builtin(), nil, nil)
		Expect(err).NotTo(HaveOccurred())
		pair, err := fixtures.Generate(ctx, cfg.Fixture.Spec(), fixtures.DefaultCacheDir())
		Expect(err).NotTo(HaveOccurred())
		out := filepath.Join(dir, "out")
		Expect(prepareOut(out)).To(Succeed())
		var stdout, stderr bytes.Buffer
		a := &app{writers: writers.Builtin(), readers: readers.Builtin(), stdin: bytes.NewReader(nil),
			stdout: &stdout, stderr: &stderr, self: self}
		refuse := func(context.Context, step.Config) (*step.Sequence, error) {
			return nil, fmt.Errorf("%w: PTRACE_SEIZE: operation not permitted", step.ErrNotPermitted)
		}
		f := matrixFlags{config: cfgPath, out: out, mode: "step", configSet: true}
		code, err := a.matrixStepWith(ctx, f, cfg, plan, pair, stepOptionsFrom(f), refuse)
		Expect(err).NotTo(HaveOccurred())
		Expect(code).To(Equal(exitOK), stdout.String())
		Expect(stderr.String()).To(ContainSubstring("warning: --mode step needs ptrace, which this machine does not allow"))
		Expect(stderr.String()).To(ContainSubstring("operation not permitted"))

		r, err := reports.Read(filepath.Join(out, "report.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Run.Mode).To(Equal("race"))
		Expect(r.Run.Requested).To(Equal("step"))
		Expect(r.Run.Warnings).To(ContainElement(ContainSubstring("raced by timing instead")))
		Expect(r.Results).To(HaveLen(1))
		Expect(r.Results[0].Step).To(BeNil())
		Expect(r.Results[0].Updates).To(Equal(2))
	})
})
