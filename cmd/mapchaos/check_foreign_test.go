package main_test

import (
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/internal/foreigntest"
	"github.com/mapchaos/mapchaos/internal/proctest"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/results"
	"github.com/mapchaos/mapchaos/verdicts"
)

// pythonReaderCmd is the --reader-cmd of the example foreign reader of
// readers/foreign.
func pythonReaderCmd() string {
	return strings.Join(foreigntest.RequirePythonReader(filepath.Join("..", "..")), " ")
}

var _ = Describe("mapchaos check --reader-cmd: a team's own reader, in another language", Serial, func() {
	DescribeTable("gates on what the updater did to the foreign reader, raced or stepped",
		func(mode, writerCmd string, code int, want verdicts.Verdict) {
			dir := GinkgoT().TempDir()
			readerCmd := pythonReaderCmd()
			s := mapchaos(dir, "check", "--out", "out", "--mode", mode, "--size", "2MiB", "--updates", "8",
				"--readers", "", "--writer-cmd", writerCmd, "--reader-cmd", readerCmd)
			Eventually(s).Should(gexec.Exit(code))
			rep, err := reports.Read(filepath.Join(dir, "out", "report.json"))
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.Run.Mode).To(Equal(mode))
			Expect(rep.Run.ReaderCmd).To(Equal(readerCmd))
			Expect(rep.Results).To(HaveLen(1))
			e := rep.Results[0]
			Expect(e.Reader).To(Equal("exec"))
			Expect(e.Verdict).To(Equal(want), "evidence: %v", e.Evidence)
			Expect(e.Lookups).To(BeNumerically(">", 100), "the harness asked it and checked its answers")
			if want == verdicts.Crash {
				Expect(e.Evidence.Role).To(Equal(results.Running))
				Expect(e.Evidence.ExitStatus).To(HavePrefix("killed by SIGBUS"), "read from the wait status of the Python process")
				Expect(e.Evidence.Signal).To(Equal("SIGBUS"))
			} else {
				Expect(e.Answers.Right).To(Equal(e.Lookups))
			}
			Expect(proctest.Mentioning(filepath.Join(dir, "out"))).To(BeEmpty(), "no reader outlives check")
		},
		Entry("race, cp: the Python process dies by SIGBUS", "race", "cp {new} {target}", 1, verdicts.Crash),
		Entry("race, mv: safe", "race", "mv {new} {target}", 0, verdicts.Safe),
		Entry("step, cp: killed by SIGBUS at the truncating open", Label("ptrace"), "step", "cp {new} {target}", 1, verdicts.Crash),
		Entry("step, mv: safe in every state", Label("ptrace"), "step", "mv {new} {target}", 0, verdicts.Safe),
	)

	It("step mode: a reader that cannot start is bad input (exit 2), and nothing is left running", Label("ptrace"), func() {
		dir := GinkgoT().TempDir()
		s := mapchaos(dir, "check", "--out", "out", "--mode", "step", "--size", "256KiB", "--readers", "",
			"--writer-cmd", "mv {new} {target}", "--reader-cmd", `sh -c 'echo "no such table" >&2; exit 1' fp-cli-bad {target}`)
		Eventually(s).Should(gexec.Exit(2))
		Expect(s.Err).To(gbytes.Say(regexpQuote(`--reader-cmd: running reader exec cannot open the target before the update: reader does not follow the line protocol: ended before saying ready (exited with status 1); stderr ends: no such table`)))
		Expect(proctest.Mentioning("fp-cli-bad")).To(BeEmpty())
	})
})
