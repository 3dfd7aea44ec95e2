package harness_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/harness"
	"github.com/mapchaos/mapchaos/internal/proctest"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/step"
	"github.com/mapchaos/mapchaos/verdicts"
	"github.com/mapchaos/mapchaos/writers"
)

// smallPlan is cp and rename against mmap, with a short race.
func smallPlan() harness.Plan {
	cfg := parse(`
race: {updates: 4, running_readers: 1, starting_readers: 1, reload: 20ms, gap: 20ms, seed: 3}
writers: [cp, rename]
readers: [mmap]
expect:
  - {writer: cp, reader: mmap, verdict: crash, why: "cp truncates the mapped file"}
  - {writer: rename, reader: mmap, verdict: safe, why: "atomic"}
`)
	p, err := harness.Resolve(cfg, writers.Builtin(), readers.Builtin(), nil, nil)
	Expect(err).NotTo(HaveOccurred())
	return p
}

// heard records what a run told its Events.
type heard struct {
	begun, done []string
	stepped     int
	warnings    []string
}

func (h *heard) Begin(k, n int, c harness.Combo) {
	h.begun = append(h.begun, fmt.Sprintf("%d/%d %s", k, n, c.Name()))
}
func (h *heard) Done(k, n int, e reports.Entry) {
	h.done = append(h.done, fmt.Sprintf("%d/%d %s x %s %s", k, n, e.Writer, e.Reader, e.Verdict))
}
func (h *heard) Stepped(string, string, *step.Sequence) { h.stepped++ }
func (h *heard) Note(string)                            {}
func (h *heard) Warn(msg string)                        { h.warnings = append(h.warnings, msg) }

var _ = Describe("Run", func() {
	var out string
	BeforeEach(func() {
		out = filepath.Join(GinkgoT().TempDir(), "out")
		DeferCleanup(func() { Expect(proctest.Mentioning(out)).To(BeEmpty(), "a process of the run outlived it") })
	})

	run := func(ctx context.Context, mode harness.Mode, h *heard) reports.Report {
		r := &harness.Run{Plan: smallPlan(), Pair: env.Pair, Mode: mode, Out: out, Self: env.Bin,
			Repro: harness.Repro{Seed: 3}, Events: h}
		placed, err := r.Execute(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(placed).To(HaveLen(1))
		Expect(placed[0].Dir).To(Equal(out))
		return placed[0].Report
	}

	It("races each combination in its own directory and judges it against the plan", func(ctx SpecContext) {
		h := &heard{}
		rep := run(ctx, harness.Race{}, h)
		Expect(rep.Run.Mode).To(Equal("race"))
		Expect(rep.Results).To(HaveLen(2))
		cp, rename := rep.Results[0], rep.Results[1]
		Expect(cp.Verdict).To(Equal(verdicts.Crash), cp.Evidence.String())
		Expect(cp.Met).To(BeTrue())
		Expect(cp.Evidence.Repro).To(Equal("mapchaos matrix --writers cp --readers mmap --seed 3"))
		Expect(rename.Verdict).To(Equal(verdicts.Safe))
		Expect(h.begun).To(Equal([]string{"1/2 cp x mmap", "2/2 rename x mmap"}))
		Expect(h.done).To(Equal([]string{"1/2 cp x mmap crash", "2/2 rename x mmap safe"}))
		Expect(filepath.Join(out, "runs", "cp_x_mmap", "timeline.log")).To(BeARegularFile())
	})

	It("steps each writer once, probing its readers, with the same verdicts on every run", func(ctx SpecContext) {
		if err := step.Available(); err != nil {
			Skip("ptrace is not allowed here: " + err.Error())
		}
		h := &heard{}
		rep := run(ctx, harness.Step{Updates: 2}, h)
		Expect(rep.Run.Mode).To(Equal("step"))
		Expect(rep.Results[0].Verdict).To(Equal(verdicts.Crash))
		Expect(rep.Results[0].Step.Updates).To(HaveLen(2))
		Expect(rep.Results[0].Evidence.Repro).To(Equal("mapchaos matrix --writers cp --readers mmap --seed 3"))
		Expect(rep.Results[1].Verdict).To(Equal(verdicts.Safe))
		Expect(h.stepped).To(Equal(4), "two updates of each of two writers")
		Expect(filepath.Join(out, "runs", "cp_step")).NotTo(BeADirectory(), "the stepped target and versions are removed")
	})

	It("races instead, and says so, where ptrace is not allowed", func(ctx SpecContext) {
		refuse := func(context.Context, step.Config) (*step.Sequence, error) {
			return nil, fmt.Errorf("%w: PTRACE_SEIZE: operation not permitted", step.ErrNotPermitted)
		}
		h := &heard{}
		rep := run(ctx, harness.Step{Updates: 2, Trace: refuse}, h)
		Expect(rep.Run.Mode).To(Equal("race"))
		Expect(rep.Run.Requested).To(Equal("step"))
		Expect(rep.Run.Warnings).To(ContainElement(ContainSubstring("--mode step needs ptrace")))
		Expect(h.warnings).To(ConsistOf(ContainSubstring("raced by timing instead")))
		Expect(rep.Results).To(HaveLen(2))
		Expect(rep.Results[0].Step).To(BeNil())
		Expect(h.begun).To(Equal([]string{"1/2 cp x mmap", "2/2 rename x mmap"}))
	})

	It("stops racing a writer's other readers once the writer failed", func(ctx SpecContext) {
		fail := writers.Strategy{Name: "exec", Writer: writers.Command("false", "{new}", "{target}")}
		mmap, _ := readers.Builtin().Lookup("mmap")
		bytes, _ := readers.Builtin().Lookup("bytes")
		p := smallPlan()
		p.Combos = []harness.Combo{{Writer: fail, Reader: mmap}, {Writer: fail, Reader: bytes}}
		r := &harness.Run{Plan: p, Pair: env.Pair, Out: out, Self: env.Bin}
		placed, err := r.Execute(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(placed[0].Report.Results).To(HaveLen(1))
		Expect(placed[0].Report.Results[0].WriterError).To(ContainSubstring("exit status 1"))
		Expect(placed[0].Report.Results[0].Met).To(BeFalse())
		log, err := os.ReadFile(filepath.Join(out, "runs", "exec_x_mmap", "writer.log"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(log)).To(ContainSubstring("== update 1: exit status 1"))
	})
})
