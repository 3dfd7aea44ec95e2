package harness_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/harness"
	"github.com/mapchaos/mapchaos/internal/proctest"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/results"
	"github.com/mapchaos/mapchaos/step"
	"github.com/mapchaos/mapchaos/verdicts"
	"github.com/mapchaos/mapchaos/writers"
)

// namesOf lists the names of every crash state of e, per update.
func namesOf(e reports.Entry) map[string]bool {
	out := map[string]bool{}
	for _, u := range e.PowerLoss.Updates {
		for _, s := range u.States {
			out[s.Name] = true
		}
	}
	return out
}

// statesNamed returns the crash states of e whose target is name.
func statesNamed(e reports.Entry, name string) []results.CrashState {
	var out []results.CrashState
	for _, u := range e.PowerLoss.Updates {
		for _, s := range u.States {
			if s.Name == name {
				out = append(out, s)
			}
		}
	}
	return out
}

var _ = Describe("PowerLoss", func() {
	var out string
	BeforeEach(func() {
		if err := step.Available(); err != nil {
			Skip("ptrace is not allowed here: " + err.Error())
		}
		out = filepath.Join(GinkgoT().TempDir(), "out")
		DeferCleanup(func() { Expect(proctest.Mentioning(out)).To(BeEmpty(), "a process of the run outlived it") })
	})

	// run traces writer under model, judged by the mmap and bytes readers.
	run := func(ctx SpecContext, writer, model string, dir string) []reports.Entry {
		w, err := writers.Builtin().Lookup(writer)
		Expect(err).NotTo(HaveOccurred())
		p := smallPlan()
		p.Combos = nil
		for _, name := range []string{"mmap", "bytes"} {
			rd, err := readers.Builtin().Lookup(name)
			Expect(err).NotTo(HaveOccurred())
			p.Combos = append(p.Combos, harness.Combo{Writer: w, Reader: rd})
		}
		r := &harness.Run{Plan: p, Pair: env.Pair, Mode: harness.PowerLoss{Model: model, Updates: 2, States: 32},
			Out: dir, Self: env.Bin, Repro: harness.Repro{Seed: 3}}
		placed, err := r.Execute(ctx)
		Expect(err).NotTo(HaveOccurred())
		rep := placed[0].Report
		Expect(rep.Run.Mode).To(Equal("power-loss"))
		Expect(rep.Results).To(HaveLen(2))
		for _, e := range rep.Results {
			Expect(e.PowerLoss).NotTo(BeNil())
			Expect(e.PowerLoss.Model).To(Equal(model))
			Expect(e.PowerLoss.Updates).To(HaveLen(2))
		}
		return rep.Results
	}

	for _, model := range []string{"posix", "ext4-ordered"} {
		It("finds whole A or whole B only after rename (fsync, rename, fsync dir) under "+model, func(ctx SpecContext) {
			for _, e := range run(ctx, "rename", model, out) {
				Expect(namesOf(e)).To(Equal(map[string]bool{"whole A": true, "whole B": true}), e.Reader)
				Expect(e.Verdict).To(Equal(verdicts.Safe), e.Reader)
				Expect(e.Met).To(BeTrue())
				Expect(e.PowerLoss.Down).To(BeZero())
				var temps bool
				for _, u := range e.PowerLoss.Updates {
					Expect(u.Barriers).To(Equal(2), "fsync of the temporary file and of the directory")
					Expect(u.Explored).To(BeNumerically(">", 2))
					for _, s := range u.States {
						temps = temps || len(s.Leftovers) > 0
					}
				}
				Expect(temps).To(BeTrue(), "a crash before the rename leaves the temporary file, named")
			}
		}, SpecTimeout(3*60e9))
	}

	It("finds rename-nofsync's target at B's name but empty or zero-filled under posix, and no reader comes back", func(ctx SpecContext) {
		for _, e := range run(ctx, "rename-nofsync", "posix", out) {
			Expect(e.Met).To(BeFalse(), "a power cut leaves a state the reader cannot serve")
			for _, name := range []string{"empty", "zero-filled"} {
				bad := statesNamed(e, name)
				Expect(bad).NotTo(BeEmpty(), name)
				s := bad[0]
				Expect(s.Call).To(ContainSubstring("renameat"), "the power was lost after the rename")
				Expect(s.Lost).To(ContainSubstring(`"db.mmdb"`))
				Expect(s.Verdict).To(Equal(verdicts.Degraded), "the reader cannot open it: %s", s.Detail)
				Expect(s.Down).To(BeTrue())
				Expect(s.Detail).To(ContainSubstring("open"))
			}
			Expect(e.PowerLoss.Updates[0].Barriers).To(BeZero())
		}
	}, SpecTimeout(3*60e9))

	It("finds rename-nofsync's target zero-filled but never empty under ext4-ordered (auto_da_alloc on a rename over a file)", func(ctx SpecContext) {
		for _, e := range run(ctx, "rename-nofsync", "ext4-ordered", out) {
			Expect(statesNamed(e, "zero-filled")).NotTo(BeEmpty())
			Expect(statesNamed(e, "empty")).To(BeEmpty())
			Expect(e.Met).To(BeFalse())
		}
	}, SpecTimeout(3*60e9))

	It("finds cp's empty, partial and torn states, each with its reader's verdict, the same on every run", func(ctx SpecContext) {
		first := run(ctx, "cp", "posix", out)
		for _, e := range first {
			for _, name := range []string{"empty", "partial", "torn"} {
				Expect(statesNamed(e, name)).NotTo(BeEmpty(), "%s x %s: %s", e.Writer, e.Reader, name)
			}
			Expect(statesNamed(e, "empty")[0].Verdict).To(Equal(verdicts.Degraded))
			Expect(e.Met).To(BeFalse())
		}
		again := run(ctx, "cp", "posix", filepath.Join(filepath.Dir(out), "again"))
		for i := range first {
			for j, u := range first[i].PowerLoss.Updates {
				v := again[i].PowerLoss.Updates[j]
				Expect(v.Command).NotTo(Equal(u.Command), "each run in its own directory")
				v.Command = u.Command
				Expect(v).To(Equal(u), "same seed, same states, same verdicts")
			}
		}
	}, SpecTimeout(4*60e9))

	It("finds inplace's torn states", func(ctx SpecContext) {
		for _, e := range run(ctx, "inplace", "posix", out) {
			Expect(statesNamed(e, "torn")).NotTo(BeEmpty())
			Expect(e.Met).To(BeFalse())
		}
	}, SpecTimeout(3*60e9))

	It("fails, and does not race instead, where ptrace is not allowed", func(ctx SpecContext) {
		refuse := func(context.Context, step.Config) (*step.Sequence, error) {
			return nil, fmt.Errorf("%w: PTRACE_SEIZE: operation not permitted", step.ErrNotPermitted)
		}
		w, _ := writers.Builtin().Lookup("cp")
		rd, _ := readers.Builtin().Lookup("mmap")
		p := smallPlan()
		p.Combos = []harness.Combo{{Writer: w, Reader: rd}}
		r := &harness.Run{Plan: p, Pair: env.Pair, Mode: harness.PowerLoss{Trace: refuse}, Out: out, Self: env.Bin}
		_, err := r.Execute(ctx)
		Expect(err).To(MatchError(ContainSubstring("--mode power-loss traces the updater under ptrace, which this machine does not allow")))
		Expect(errors.Is(err, step.ErrNotPermitted)).To(BeFalse(), "nothing falls back to racing")
	})

	It("refuses an unknown model as bad input", func(ctx SpecContext) {
		w, _ := writers.Builtin().Lookup("cp")
		rd, _ := readers.Builtin().Lookup("mmap")
		p := smallPlan()
		p.Combos = []harness.Combo{{Writer: w, Reader: rd}}
		r := &harness.Run{Plan: p, Pair: env.Pair, Mode: harness.PowerLoss{Model: "zfs"}, Out: out, Self: env.Bin}
		_, err := r.Execute(ctx)
		var bad *harness.InputError
		Expect(err).To(BeAssignableToTypeOf(bad))
		Expect(err).To(MatchError(ContainSubstring(`unknown persistence model "zfs": want posix or ext4-ordered`)))
	})
})
