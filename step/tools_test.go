package step_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/internal/needs"
	"github.com/mapchaos/mapchaos/step"
)

// The real tools, stepped as `TOOL ARGS... NEW TARGET` with NEW a fresh copy
// of B next to the target's directory. rsync must be installed
// (apt-get install -y rsync); -I makes it copy even when size and mtime
// match.
var _ = Describe("stepping real tools", Label("ptrace", "tools"), func() {
	DescribeTable("what must hold on every run",
		func(ctx SpecContext, argv []string, check func(*step.Sequence)) {
			// e.g. the arm64 guest of make test-arm64, whose busybox has no rsync
			pkg := map[bool]string{true: "rsync", false: "coreutils"}[argv[0] == "rsync"]
			needs.Program(pkg, argv[0])
			seq := stepTool(ctx, argv, fx.Shrink)
			Expect(seq.States[0].Unsafe).To(BeFalse())
			check(seq)
		},
		Entry("cp: the first unsafe state is the truncating open; the data by copy_file_range (GNU) or sendfile (busybox)", Label("tool:cp"), []string{"cp"}, func(seq *step.Sequence) {
			c := call(seq, seq.Unsafe())
			Expect(c.Name).To(Equal("openat"))
			Expect(c.Text).To(ContainSubstring("O_TRUNC"))
			Expect(seq.Unsafe().Running.FaultAt).To(BeZero())
			Expect(seq.Unsafe().Starting.Found).To(Equal(step.FoundEmpty))
			Expect(names(seq)).To(ContainElement(BeElementOf("copy_file_range", "sendfile")))
			Expect(brokenKills(seq)).To(ContainElement(ContainSubstring("empty file")))
		}),
		Entry("mv: renameat2(RENAME_NOREPLACE) fails, renameat; atomic", Label("tool:mv"), []string{"mv"}, func(seq *step.Sequence) {
			Expect(seq.Unsafe()).To(BeNil())
			Expect(brokenKills(seq)).To(BeEmpty())
			Expect(seq.States[len(seq.States)-1].Starting.Found).To(Equal(step.FoundNew))
			Expect(names(seq)).To(ContainElement(MatchRegexp("^rename")))
		}),
		Entry("rsync -I: a temporary file renamed over the target; atomic, temporary files left when killed", Label("tool:rsync"), []string{"rsync", "-I"}, func(seq *step.Sequence) {
			Expect(seq.Unsafe()).To(BeNil())
			Expect(brokenKills(seq)).To(BeEmpty())
			Expect(seq.Kills[0].LeftBehind).To(ConsistOf(MatchRegexp(`^\.db\.mmdb\.`)))
			Expect(call(seq, &seq.States[len(seq.States)-1]).Name).To(Equal("renameat"))
			for _, k := range seq.Kills {
				Expect(k.Note).To(BeEmpty(), "each kill run made the same calls, temporary names aside")
			}
		}),
		Entry("rsync -I --inplace: torn states, then SIGBUS from the final ftruncate", Label("tool:rsync"), []string{"rsync", "-I", "--inplace"}, func(seq *step.Sequence) {
			t := firstState(seq, torn)
			Expect(t).NotTo(BeNil(), "no torn state")
			st := firstState(seq, faults)
			Expect(st).NotTo(BeNil())
			Expect(call(seq, st).Name).To(Equal("ftruncate"))
			Expect(st.N).To(BeNumerically(">", t.N))
			Expect(brokenKills(seq)).To(ContainElement(ContainSubstring("torn")))
		}),
		Entry("install: unlink, then an empty file, then the copy", Label("tool:install"), []string{"install"}, func(seq *step.Sequence) {
			st := firstState(seq, missing)
			Expect(st).NotTo(BeNil())
			Expect(call(seq, st).Name).To(Equal("unlinkat"))
			Expect(seq.Unsafe()).To(Equal(st))
			Expect(firstState(seq, func(s step.State) bool { return s.Starting.Found == step.FoundEmpty })).NotTo(BeNil())
			Expect(st.Running.Intact()).To(BeTrue(), "a running reader keeps the old inode")
			Expect(brokenKills(seq)).To(HaveLen(2))
		}),
	)
})

// names lists the names of the calls of seq.
func names(seq *step.Sequence) []string {
	var out []string
	for _, c := range seq.Calls {
		out = append(out, c.Name)
	}
	return out
}
