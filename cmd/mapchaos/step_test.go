package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/internal/proctest"
	"github.com/mapchaos/mapchaos/reports"
)

// stepSmall is a quick real step matrix: a 256 KiB fixture; each writer
// is stepped A->B and B->A.
const stepSmall = `
fixture: {size: 256KiB, shape: shrink}
race: {updates: 6, running_readers: 2, starting_readers: 1, reload: 20ms, gap: 20ms, seed: 5}
writers: [cp, rename, symlink-recreate]
readers: [mmap, bytes]
expect:
  - {writer: cp, reader: mmap, verdict: crash, why: "the truncating open: SIGBUS at offset 0"}
  - {writer: cp, reader: bytes, verdict: degraded, why: "a starting reader reads an empty file"}
  - {writer: rename, reader: "*", verdict: safe, why: "atomic"}
  - {writer: symlink-recreate, reader: "*", verdict: degraded, why: "no path between unlink and symlink, found every time when stepped"}
`

var _ = Describe("mapchaos matrix --mode step", Label("ptrace"), func() {
	It("steps each writer under ptrace, prints the sequences, and writes them into the report", func() {
		dir := GinkgoT().TempDir()
		cfg := writeConfig(dir, stepSmall)
		out := filepath.Join(dir, "out")
		s := mapchaos(dir, "matrix", "--mode", "step", "--config", cfg, "--out", out)
		Eventually(s).Should(gexec.Exit(0))
		Expect(s.Out).To(gbytes.Say(`stepping 6 combinations`))
		Expect(s.Out).To(gbytes.Say(`cp A->B: exit 0`))
		Expect(s.Out).To(gbytes.Say(`#1 openat\("db.mmdb", O_WRONLY\|O_CREAT\|O_TRUNC, 0644\) = \d+ -> running: SIGBUS at offset 0; starting: empty file   <- first unsafe state`))
		Expect(s.Out).To(gbytes.Say(`killed after #1 openat.* -> empty file`))
		Expect(s.Out).To(gbytes.Say(`symlink-recreate A->B`))
		Expect(s.Out).To(gbytes.Say(`unlinkat\("db.mmdb"\) = 0 -> running: whole A \(intact\); starting: ENOENT \(no file\)   <- first unsafe state`))
		Expect(s.Out).To(gbytes.Say(`every expectation held \(6 combinations`))

		r, err := reports.Read(filepath.Join(out, "report.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Run.Mode).To(Equal("step"))
		Expect(r.Run.Requested).To(BeEmpty())
		Expect(r.Results).To(HaveLen(6))
		for _, e := range r.Results {
			Expect(e.Step).NotTo(BeNil(), "%s x %s", e.Writer, e.Reader)
			Expect(e.Step.Updates).To(HaveLen(2))
			Expect(e.Updates).To(Equal(2))
			Expect(e.Step.Updates[0].States[0].N).To(BeZero())
			if e.Writer == "rename" {
				Expect(e.Step.Updates[0].FirstUnsafe).To(BeZero())
				for _, k := range e.Step.Updates[0].Kills {
					Expect(k.Broken).To(BeFalse(), k.Found)
				}
			}
			if e.Writer == "cp" && e.Reader == "mmap" {
				Expect(e.Evidence).NotTo(BeNil())
				Expect(e.Evidence.Signal).To(Equal("SIGBUS"))
				Expect(e.Evidence.Step).To(Equal(1))
				Expect(e.Evidence.WriterStep).To(ContainSubstring("#1 openat"))
				Expect(e.Evidence.Repro).To(ContainSubstring("mapchaos matrix --mode step"))
			}
		}
		md, err := os.ReadFile(filepath.Join(out, "report.md"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(md)).To(ContainSubstring("## Step sequences"))
		Expect(string(md)).To(ContainSubstring("### symlink-recreate, update A-\\>B"))
		Expect(string(md)).To(ContainSubstring("(first unsafe)"))
		for _, f := range []string{"report.html", "junit.xml"} {
			Expect(filepath.Join(out, f)).To(BeAnExistingFile())
		}
		Expect(proctest.Mentioning(out)).To(BeEmpty(), "no writer or wrapper left behind")
	})

	It("gives the same sequences on every run", func() {
		dir := GinkgoT().TempDir()
		cfg := writeConfig(dir, stepSmall)
		var runs [2]string
		for i := range runs {
			out := filepath.Join(dir, "out")
			s := mapchaos(dir, "matrix", "--mode", "step", "--config", cfg, "--out", out, "--writers", "cp,symlink-recreate")
			Eventually(s).Should(gexec.Exit(0))
			r, err := reports.Read(filepath.Join(out, "report.json"))
			Expect(err).NotTo(HaveOccurred())
			var seqs []any
			for _, e := range r.Results {
				for _, u := range e.Step.Updates {
					seqs = append(seqs, u.States, u.Kills, u.FirstUnsafe)
				}
			}
			b, err := json.Marshal(seqs)
			Expect(err).NotTo(HaveOccurred())
			runs[i] = stripDetails(string(b))
		}
		Expect(runs[1]).To(Equal(runs[0]))
	})

	It("exits 1 when a stepped verdict contradicts an expectation", func() {
		dir := GinkgoT().TempDir()
		cfg := writeConfig(dir, `
fixture: {size: 256KiB, shape: shrink}
writers: [remove-create]
readers: [mmap]
expect:
  - {writer: remove-create, reader: mmap, verdict: safe, why: "wrong on purpose: the unlink leaves no path"}
`)
		s := mapchaos(dir, "matrix", "--mode", "step", "--config", cfg, "--out", filepath.Join(dir, "out"))
		Eventually(s).Should(gexec.Exit(1))
		Expect(s.Out).To(gbytes.Say(`remove-create +x mmap +degraded +UNEXPECTED \(expected safe\)`))
	})
})

var _ = Describe("mapchaos writer", func() {
	It("applies one update with a built-in writer, as its own process", func() {
		dir := GinkgoT().TempDir()
		src := filepath.Join(dir, "new")
		target := filepath.Join(dir, "db.mmdb")
		Expect(os.WriteFile(src, []byte("new version"), 0o644)).To(Succeed())
		Expect(os.WriteFile(target, []byte("old version, longer"), 0o644)).To(Succeed())
		s := mapchaos(dir, "writer", "inplace", src, target, "1")
		Eventually(s).Should(gexec.Exit(0))
		Expect(os.ReadFile(target)).To(Equal([]byte("new version")))
	})

	DescribeTable("exits 2 on bad usage, naming the problem",
		func(args []string, msg string) {
			s := mapchaos(GinkgoT().TempDir(), append([]string{"writer"}, args...)...)
			Eventually(s).Should(gexec.Exit(2))
			Expect(s.Err).To(gbytes.Say(msg))
		},
		Entry("no arguments", []string{}, `want NAME SRC TARGET SEQ`),
		Entry("unknown writer", []string{"scp", "a", "b", "1"}, `unknown writer "scp"`),
		Entry("bad sequence number", []string{"cp", "a", "b", "zero"}, `SEQ "zero": want a positive number`),
		Entry("trace wrapper without a program", []string{"--trace-wrap", "--"}, `want \[-seccomp\] -- PROG ARGS`),
	)

	It("exits 1 when the writer fails", func() {
		dir := GinkgoT().TempDir()
		s := mapchaos(dir, "writer", "cp", filepath.Join(dir, "missing"), filepath.Join(dir, "db.mmdb"), "1")
		Eventually(s).Should(gexec.Exit(1))
		Expect(s.Err).To(gbytes.Say(`mapchaos writer: cp: .*missing`))
	})
})

// stripDetails drops the reader details (fault addresses differ from run
// to run under ASLR) from a JSON rendering of step states.
func stripDetails(s string) string {
	var v any
	Expect(json.Unmarshal([]byte(s), &v)).To(Succeed())
	var walk func(any)
	walk = func(x any) {
		switch t := x.(type) {
		case map[string]any:
			delete(t, "detail")
			for _, y := range t {
				walk(y)
			}
		case []any:
			for _, y := range t {
				walk(y)
			}
		}
	}
	walk(v)
	b, _ := json.Marshal(v)
	return string(b)
}
