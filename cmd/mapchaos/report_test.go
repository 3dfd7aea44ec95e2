package main_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/verdicts"
)

// writeReport writes r as dir/name/report.json and returns its path.
func writeReport(dir, name string, r reports.Report) string {
	GinkgoHelper()
	b, err := reports.JSON(r)
	Expect(err).NotTo(HaveOccurred())
	p := filepath.Join(dir, name, "report.json")
	Expect(os.MkdirAll(filepath.Dir(p), 0o755)).To(Succeed())
	Expect(os.WriteFile(p, b, 0o644)).To(Succeed())
	return p
}

var _ = Describe("mapchaos report merge", Ordered, Serial, func() {
	var dir, amd64, again, arm64 string

	BeforeAll(func() {
		By("making a real report with a real run")
		dir = GinkgoT().TempDir()
		writeConfig(dir, small)
		Eventually(mapchaos(dir, "matrix", "--out", "amd64")).Should(gexec.Exit(0))
		amd64 = filepath.Join(dir, "amd64", "report.json")
		real, err := reports.Read(amd64)
		Expect(err).NotTo(HaveOccurred())
		Expect(real.Results).To(HaveLen(2))

		By("deriving two more from it: the same verdicts, and an arm64 run where rename x mmap crashed")
		again = writeReport(dir, "again", real)
		other := real
		other.Run.GOARCH, other.Run.Emulation = "arm64", "qemu-system"
		other.Results = append([]reports.Entry(nil), real.Results...)
		for i, e := range other.Results {
			if e.Writer == "rename" {
				other.Results[i].Verdict, other.Results[i].Met = verdicts.Crash, false
			}
		}
		arm64 = writeReport(dir, "arm64", other)
	})

	It("exits 0 when the runs agree, and writes merged.md and merged.html", func() {
		s := mapchaos(dir, "report", "merge", amd64, again, "--out", "agree", "--labels", "monday,tuesday")
		Eventually(s).Should(gexec.Exit(0))
		Expect(s.Out).To(gbytes.Say(`writer\s+reader\s+monday\s+tuesday`))
		Expect(s.Out).To(gbytes.Say(`cp\s+mmap\s+crash\s+crash\s*\n`))
		Expect(s.Out).To(gbytes.Say(`rename\s+mmap\s+safe\s+safe\s*\n`))
		Expect(s.Out).To(gbytes.Say(`the runs agree on all 2 combinations`))
		Expect(filepath.Join(dir, "agree", "merged.md")).To(BeAnExistingFile())
		Expect(filepath.Join(dir, "agree", "merged.html")).To(BeAnExistingFile())
	})

	It("exits 1 when a verdict differs, and marks that combination", func() {
		s := mapchaos(dir, "report", "merge", "--out", "differ", amd64, arm64)
		Eventually(s).Should(gexec.Exit(1))
		// The real run's column is this machine's GOARCH (arm64 in the guest of make test-arm64).
		Expect(s.Out).To(gbytes.Say(`writer\s+reader\s+` + runtime.GOARCH + `\s+arm64/qemu-system`))
		Expect(s.Out).To(gbytes.Say(`cp\s+mmap\s+crash\s+crash\s*\n`))
		Expect(s.Out).To(gbytes.Say(`rename\s+mmap\s+safe\s+crash \(expected safe\)\s+≠ differs`))
		Expect(s.Out).To(gbytes.Say(`1 of 2 combinations differ between the runs`))
		md, err := os.ReadFile(filepath.Join(dir, "differ", "merged.md"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(md)).To(ContainSubstring("1 of 2 combinations differ."))
		page, err := os.ReadFile(filepath.Join(dir, "differ", "merged.html"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(page)).To(ContainSubstring(`data-writer="rename" data-reader="mmap" data-differs="true"`))
		Expect(string(page)).To(ContainSubstring(`data-writer="cp" data-reader="mmap" data-differs="false"`))
	})

	It("merges more than two", func() {
		s := mapchaos(dir, "report", "merge", amd64, again, arm64, "--out", "three")
		Eventually(s).Should(gexec.Exit(1))
		// The real runs' columns are this machine's GOARCH (arm64 in the guest).
		Expect(s.Out).To(gbytes.Say(runtime.GOARCH + `\s+` + runtime.GOARCH + ` #2\s+arm64/qemu-system`))
	})

	DescribeTable("bad input: exit 2, a message naming it, nothing written",
		func(args func() []string, msg string) {
			s := mapchaos(dir, append([]string{"report"}, args()...)...)
			Eventually(s).Should(gexec.Exit(2))
			Expect(s.Err).To(gbytes.Say(regexpQuote(msg)))
			Expect(filepath.Join(dir, "bad")).NotTo(BeAnExistingFile())
		},
		Entry("a missing file", func() []string {
			return []string{"merge", amd64, "nope/report.json", "--out", "bad"}
		}, "nope/report.json: no such file"),
		Entry("not JSON", func() []string {
			p := filepath.Join(dir, "notjson.json")
			Expect(os.WriteFile(p, []byte("<html>"), 0o644)).To(Succeed())
			return []string{"merge", amd64, p, "--out", "bad"}
		}, "notjson.json: invalid JSON at line 1, column 1"),
		Entry("JSON that is not a report", func() []string {
			p := filepath.Join(dir, "package.json")
			Expect(os.WriteFile(p, []byte(`{"name": "x"}`), 0o644)).To(Succeed())
			return []string{"merge", amd64, p, "--out", "bad"}
		}, `package.json: no "schema" key: not a mapchaos report`),
		Entry("another schema version", func() []string {
			p := filepath.Join(dir, "v2.json")
			Expect(os.WriteFile(p, []byte(`{"schema": "mapchaos.report/v2", "results": 7}`), 0o644)).To(Succeed())
			return []string{"merge", amd64, p, "--out", "bad"}
		}, `v2.json: schema is "mapchaos.report/v2", want "mapchaos.report/v1"`),
		Entry("an endless file", func() []string { return []string{"merge", "/dev/zero", amd64, "--out", "bad"} },
			"read report: /dev/zero: larger than 64 MiB, the most mapchaos reads for a report (report.json)"),
		Entry("one report", func() []string { return []string{"merge", amd64, "--out", "bad"} },
			"merge needs at least two reports, got 1"),
		Entry("no --out", func() []string { return []string{"merge", amd64, arm64} },
			"merge needs --out DIR"),
		Entry("labels that do not match the reports", func() []string {
			return []string{"merge", amd64, arm64, "--out", "bad", "--labels", "a,b,c"}
		}, `--labels "a,b,c" names 3 reports, but 2 were given`),
		Entry("the same label twice", func() []string {
			return []string{"merge", amd64, arm64, "--out", "bad", "--labels", "x,x"}
		}, `label "x" given for reports 1 and 2`),
		Entry("no subcommand", func() []string { return nil }, "want a subcommand: merge"),
		Entry("another subcommand", func() []string { return []string{"diff", amd64, arm64} }, `got "diff"`),
	)

	It("names every bad input at once", func() {
		s := mapchaos(dir, "report", "merge", "a/report.json", "b/report.json", "--out", "bad")
		Eventually(s).Should(gexec.Exit(2))
		err := string(s.Err.Contents())
		Expect(strings.Count(err, "no such file")).To(Equal(2))
	})
})
