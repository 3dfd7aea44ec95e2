package skips_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/internal/skips"
)

// runFixture runs the fixture suite with ci as $CI ("" unsets it) and
// returns its JSON report and its exit code.
func runFixture(ci string) (string, int) {
	report := filepath.Join(GinkgoT().TempDir(), "report.json")
	c := exec.Command(fixture, "--ginkgo.json-report="+report, "--ginkgo.label-filter=!other", "--ginkgo.no-color")
	c.Env = withCI(ci)
	s, err := gexec.Start(c, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	Eventually(s).Should(gexec.Exit())
	return report, s.ExitCode()
}

// withCI is the environment with CI set to ci, or without CI when ci is "".
func withCI(ci string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CI=") {
			env = append(env, kv)
		}
	}
	if ci != "" {
		env = append(env, "CI="+ci)
	}
	return env
}

func summarize(report string) skips.Summary {
	reps, err := skips.Read(report)
	Expect(err).NotTo(HaveOccurred())
	return skips.Summarize(reps, skips.Allowlist)
}

var _ = Describe("Summarize, on a real Ginkgo run", func() {
	It("lists each skipped spec with its reason, gives an Ordered container's specs their BeforeAll's reason, and counts filtered specs apart", func() {
		report, code := runFixture("")
		Expect(code).To(Equal(0), "outside CI a missing program skips, it does not fail")
		s := summarize(report)
		Expect(s.NotSelected).To(Equal(1))
		Expect(s.Skips).To(HaveLen(4))
		bySpec := map[string]skips.Skip{}
		for _, k := range s.Skips {
			Expect(k.Suite).To(Equal("Skip Fixture Suite"))
			Expect(k.Location).To(ContainSubstring("skipsuite/main.go:"))
			bySpec[k.Spec] = k
		}
		missing := bySpec["tools needs a program no machine has"]
		Expect(missing.Reason).To(HavePrefix("missing: mapchaos-no-such-program or mapchaos-no-such-program-either (not in $PATH)"))
		Expect(missing.Reason).To(ContainSubstring("apt-get install --no-install-recommends mapchaos-no-such-package"))
		Expect(missing.Allowed).To(BeEmpty())
		Expect(bySpec["skips a combination without an expectation"].Allowed).To(BeEmpty())
		for _, name := range []string{"first", "second"} {
			k := bySpec["a container without pseudo-terminals "+name]
			Expect(k.Reason).To(HavePrefix("no pseudo-terminals here: open /dev/ptmx"))
			Expect(k.Allowed).To(ContainSubstring("pseudo-terminals"))
		}
		Expect(s.Refused()).To(Equal(2))
	})

	It("under CI a missing program fails its spec instead of skipping it", func() {
		report, code := runFixture("true")
		Expect(code).To(Equal(1))
		s := summarize(report)
		for _, k := range s.Skips {
			Expect(k.Reason).NotTo(HavePrefix("missing: "))
		}
		Expect(s.Skips).To(HaveLen(3))
	})

	It("allows no missing program, whatever the allowlist says", func() {
		report, _ := runFixture("")
		reps, err := skips.Read(report)
		Expect(err).NotTo(HaveOccurred())
		s := skips.Summarize(reps, []skips.Rule{{Name: "everything", Reason: regexpAll}})
		Expect(s.Refused()).To(Equal(1))
	})
})

var _ = Describe("mapchaos-skips", func() {
	run := func(ci string, args ...string) *gexec.Session {
		c := exec.Command(cmd, args...)
		c.Env = withCI(ci)
		s, err := gexec.Start(c, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(s).Should(gexec.Exit())
		return s
	}

	It("prints the list and exits 0 outside CI", func() {
		report, _ := runFixture("")
		s := run("", report)
		Expect(s.ExitCode()).To(Equal(0))
		Expect(s.Out).To(gbytes.Say(`skipped specs: 4 \(and 1 not selected by --focus, --skip or --label-filter\)`))
		Expect(string(s.Out.Contents())).To(ContainSubstring("why: no expectation in ginkgo.yml for cp x mmap; observed crash\n    NOT ALLOWED under CI\n"))
		Expect(string(s.Out.Contents())).To(ContainSubstring("NOT ALLOWED under CI (make deps installs it)"))
	})

	It("exits 1 under CI when a skip is not allowed, and says why", func() {
		report, _ := runFixture("")
		s := run("true", report)
		Expect(s.ExitCode()).To(Equal(1))
		Expect(s.Err).To(gbytes.Say(`CI: 2 spec\(s\) skipped for a reason the allowlist does not name`))
	})

	It("exits 0 under CI when every skip is allowed", func() {
		dir := GinkgoT().TempDir()
		report := filepath.Join(dir, "r.json")
		Expect(os.WriteFile(report, []byte(`[{"SuiteDescription":"S","SpecReports":[`+
			`{"LeafNodeType":"It","LeafNodeText":"a","State":"skipped","Failure":{"Message":"no /dev/shm: stat /dev/shm: no such file or directory"}},`+
			`{"LeafNodeType":"It","LeafNodeText":"b","State":"passed"}]}]`), 0o644)).To(Succeed())
		s := run("true", report)
		Expect(s.ExitCode()).To(Equal(0))
		Expect(s.Out).To(gbytes.Say(`skipped specs: 1\n- \[S\] a\n`))
	})

	DescribeTable("bad input: exit 2 and a message",
		func(args []string, want string) {
			if len(args) == 1 && args[0] == "not-json" {
				p := filepath.Join(GinkgoT().TempDir(), "r.json")
				Expect(os.WriteFile(p, []byte("FAIL\n"), 0o644)).To(Succeed())
				args = []string{p}
			}
			s := run("", args...)
			Expect(s.ExitCode()).To(Equal(2))
			Expect(s.Err).To(gbytes.Say(want))
		},
		Entry("no argument", []string{}, `usage: mapchaos-skips REPORT.json`),
		Entry("two arguments", []string{"a", "b"}, `usage: mapchaos-skips REPORT.json`),
		Entry("a flag", []string{"--ci"}, `usage: mapchaos-skips REPORT.json`),
		Entry("no such report", []string{"/nonexistent/r.json"}, `the Ginkgo JSON report: open /nonexistent/r.json: no such file`),
		Entry("not JSON", []string{"not-json"}, `is not a Ginkgo JSON report`),
	)
})

var regexpAll = regexp.MustCompile(``)
