package step_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/results"
	"github.com/mapchaos/mapchaos/step"
	"github.com/mapchaos/mapchaos/verdicts"
)

var _ = Describe("stepping the built-in writers (update A->B, each writer its own process)", Label("ptrace"), func() {
	DescribeTable("what must hold on every run",
		func(ctx SpecContext, writer string, same bool, check func(*step.Sequence)) {
			pair := fx.Shrink
			if same {
				pair = fx.Same
			}
			seq := stepBuiltin(ctx, writer, pair)
			Expect(seq.States).NotTo(BeEmpty())
			Expect(seq.States[0].N).To(BeZero())
			Expect(seq.States[0].Unsafe).To(BeFalse(), "the state before the update: %s", seq.States[0].Line())
			check(seq)
		},
		Entry("cp: the first unsafe state is the truncating open", Label("writer:cp"), "cp", false, func(seq *step.Sequence) {
			c := call(seq, seq.Unsafe())
			Expect(c.Name).To(Equal("openat"))
			Expect(c.Text).To(ContainSubstring("O_TRUNC"))
			Expect(seq.Unsafe().Running.FaultAt).To(BeZero(), "a running mmap reader: SIGBUS at offset 0")
			Expect(seq.Unsafe().Starting.Found).To(Equal(step.FoundEmpty))
			Expect(brokenKills(seq)).To(ContainElement(ContainSubstring("empty file")))
		}),
		Entry("rename: no unsafe state at any step, no broken file at any kill point", Label("writer:rename"), "rename", false, func(seq *step.Sequence) {
			Expect(seq.Unsafe()).To(BeNil())
			Expect(seq.Kills).NotTo(BeEmpty())
			Expect(brokenKills(seq)).To(BeEmpty())
			Expect(seq.Kills[0].LeftBehind).To(ConsistOf("db.mmdb.temporary"), "a killed rename leaves its temporary file")
		}),
		Entry("symlink-swap: no unsafe state at any step, no broken file at any kill point", Label("writer:symlink-swap"), "symlink-swap", false, func(seq *step.Sequence) {
			Expect(seq.Unsafe()).To(BeNil())
			Expect(seq.Kills).NotTo(BeEmpty())
			Expect(brokenKills(seq)).To(BeEmpty())
		}),
		Entry("symlink-recreate: the window with no path, every time", Label("writer:symlink-recreate"), MustPassRepeatedly(3), "symlink-recreate", false, func(seq *step.Sequence) {
			st := firstState(seq, missing)
			Expect(st).NotTo(BeNil(), "no state without a path")
			Expect(call(seq, st).Name).To(Equal("unlinkat"))
			Expect(seq.Unsafe()).To(Equal(st))
			Expect(st.Running.Intact()).To(BeTrue(), "a running reader keeps the old file")
			Expect(brokenKills(seq)).To(ContainElement(ContainSubstring("ENOENT")))
		}),
		Entry("remove-create: no path, then an empty file, every time", Label("writer:remove-create"), MustPassRepeatedly(3), "remove-create", false, func(seq *step.Sequence) {
			st := firstState(seq, missing)
			Expect(st).NotTo(BeNil(), "no state without a path")
			Expect(call(seq, st).Name).To(Equal("unlinkat"))
			empty := firstState(seq, func(s step.State) bool {
				return s.Starting.Found == step.FoundEmpty || s.Starting.Found == step.FoundPartial
			})
			Expect(empty).NotTo(BeNil(), "no empty or partial file")
			Expect(empty.N).To(BeNumerically(">", st.N))
			// Killed after the unlink: no file; after the create: an empty
			// one; after any write but the last (a copy that could not be
			// one copy_file_range, e.g. across file systems): a partial one.
			broken := brokenKills(seq)
			Expect(broken).To(ContainElements(ContainSubstring("unlinkat"), ContainSubstring("O_EXCL")))
			for _, k := range broken[2:] {
				Expect(k).To(ContainSubstring("partial"))
			}
		}),
		Entry("inplace, B the size of A: torn states, and never SIGBUS", Label("writer:inplace"), "inplace", true, func(seq *step.Sequence) {
			Expect(firstState(seq, torn)).NotTo(BeNil(), "no torn state")
			Expect(firstState(seq, faults)).To(BeNil(), "a running reader must never fault")
			Expect(brokenKills(seq)).To(ContainElement(ContainSubstring("torn")))
		}),
		Entry("inplace, B smaller: torn states, then SIGBUS from the final truncate", Label("writer:inplace"), "inplace", false, func(seq *step.Sequence) {
			t := firstState(seq, torn)
			Expect(t).NotTo(BeNil(), "no torn state")
			st := firstState(seq, faults)
			Expect(st).NotTo(BeNil(), "no state where the old mapping faults")
			Expect(call(seq, st).Name).To(Equal("ftruncate"))
			Expect(st.N).To(BeNumerically(">", t.N))
			Expect(st.Running.FaultAt).To(BeNumerically(">", 0))
		}),
	)

	It("gives the same sequence on every run", Label("writer:inplace", "writer:symlink-recreate"), func(ctx SpecContext) {
		for _, w := range []string{"inplace", "symlink-recreate", "cp"} {
			a, b := stepBuiltin(ctx, w, fx.Shrink), stepBuiltin(ctx, w, fx.Shrink)
			Expect(b.Lines()).To(Equal(a.Lines()), w)
			Expect(callTexts(b)).To(Equal(callTexts(a)), w)
		}
	})

	It("probes every data write with ProbeEveryWrite, and exponentially spaced ones by default", Label("writer:inplace"), func(ctx SpecContext) {
		// 1 MiB of A in 256 KiB writes: 4 writes; by default the 1st, 2nd,
		// 4th (and the last) are probed, the 3rd only with ProbeEveryWrite.
		def := stepBuiltin(ctx, "inplace", fx.Same)
		every := stepBuiltin(ctx, "inplace", fx.Same, func(c *step.Config) { c.ProbeEveryWrite = true })
		writes := 0
		for _, c := range every.Calls {
			if c.Data {
				writes++
			}
		}
		Expect(writes).To(BeNumerically(">=", 2))
		Expect(every.Steps).To(HaveLen(writes + 2)) // + the open and the ftruncate
		Expect(len(def.Steps)).To(BeNumerically("<=", len(every.Steps)))
		Expect(every.Probes).To(Equal(len(every.Steps)))
	})

	It("clamps a one-call copy to show its partial states", Label("writer:cp"), func(ctx SpecContext) {
		seq := stepBuiltin(ctx, "cp", fx.Shrink, func(c *step.Config) { c.Clamp = 64 << 10 })
		if len(seq.Warnings) > 0 && strings.Contains(seq.Warnings[0], "cannot clamp") {
			Skip("this kernel has no PTRACE_SET_SYSCALL_INFO: " + seq.Warnings[0])
		}
		Expect(firstState(seq, func(s step.State) bool { return s.Starting.Found == step.FoundPartial })).NotTo(BeNil(),
			"a clamped copy shows a partial file")
		Expect(seq.States[len(seq.States)-1].Starting.Found).To(Equal(step.FoundNew), "and ends whole")
	})
})

var _ = Describe("verdicts of stepped combinations", Label("ptrace"), func() {
	DescribeTable("are judged as in race mode, with the step as evidence",
		func(ctx SpecContext, writer, reader string, same bool, want any, role results.Role, call string) {
			pair := fx.Shrink
			if same {
				pair = fx.Same
			}
			seq := stepBuiltin(ctx, writer, pair)
			res := step.Result(writer, reader, []step.Update{{Label: "A->B", Seq: seq}}, "repro")
			matcher, ok := want.(OmegaMatcher)
			if !ok {
				matcher = Equal(want)
			}
			Expect(res.Verdict).To(matcher, "%s", func() string { _, s := res.Outcome(); return s }())
			Expect(res.Step.Updates).To(HaveLen(1))
			Expect(res.Step.Updates[0].States).To(HaveLen(len(seq.States)))
			if res.Verdict == verdicts.Safe {
				Expect(res.Evidence).To(BeNil())
				return
			}
			Expect(res.Evidence).NotTo(BeNil())
			Expect(res.Evidence.Role).To(Equal(role))
			Expect(res.Evidence.WriterStep).To(ContainSubstring(call))
			Expect(res.Evidence.Step).To(BeNumerically(">", 0))
			Expect(res.Evidence.Repro).To(Equal("repro"))
		},
		Entry("cp x mmap: crash (SIGBUS at offset 0 from the truncating open)", "cp", "mmap", false, verdicts.Crash, results.Running, "openat"),
		Entry("cp x mmap-recover: the fault is recovered (and the old mapping then shows B's bytes under A's metadata)", "cp", "mmap-recover", false,
			BeElementOf(verdicts.Recovered, verdicts.Corrupt), results.Running, "#"),
		Entry("cp x bytes: a starting reader reads an empty file", "cp", "bytes", false, verdicts.Degraded, results.Starting, "openat"),
		Entry("inplace x bytes, B the size of A: a starting reader reads a torn file that parses", "inplace", "bytes", true, verdicts.Corrupt, results.Starting, "pwrite64"),
		Entry("inplace x mmap: crash at the final truncate", "inplace", "mmap", false, verdicts.Crash, results.Running, "ftruncate"),
		Entry("remove-create x mmap: ENOENT for a starting reader", "remove-create", "mmap", false, verdicts.Degraded, results.Starting, "unlinkat"),
		Entry("rename x mmap: safe", "rename", "mmap", false, verdicts.Safe, results.Running, ""),
		Entry("symlink-swap x bytes: safe", "symlink-swap", "bytes", false, verdicts.Safe, results.Running, ""),
	)
})

// callTexts lists the calls of seq as text.
func callTexts(seq *step.Sequence) []string {
	var out []string
	for _, c := range seq.Calls {
		out = append(out, c.String())
	}
	return out
}
