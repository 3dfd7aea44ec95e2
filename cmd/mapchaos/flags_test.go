package main_test

import (
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
)

var _ = Describe("flags are never silently ignored: one rule for matrix and check", func() {
	DescribeTable("a value given but out of range, empty or repeated: exit 2, the valid range, nothing written",
		func(msg string, args ...string) {
			dir := GinkgoT().TempDir()
			s := mapchaos(dir, append(args, "--out", "out")...)
			Eventually(s).Should(gexec.Exit(2))
			Expect(s.Err).To(gbytes.Say(regexpQuote(msg)))
			Expect(filepath.Join(dir, "out")).NotTo(BeAnExistingFile())
		},
		Entry("matrix --updates 0", "--updates 0: want 1 to 10000", "matrix", "--updates", "0"),
		Entry("check --updates 0", "--updates 0: want 1 to 10000", "check", "--writer-cmd", "cp {new} {target}", "--updates", "0"),
		Entry("matrix --updates 10001", "--updates 10001: want 1 to 10000", "matrix", "--updates", "10001"),
		Entry("matrix --seed -1", "--seed -1: want 0 to 9223372036854775807", "matrix", "--seed", "-1"),
		Entry("check --seed -1", "--seed -1: want 0 to 9223372036854775807", "check", "--writer-cmd", "cp {new} {target}", "--seed", "-1"),
		Entry("matrix --writers ''", "--writers is empty: name at least one", "matrix", "--writers", ""),
		Entry("matrix --readers ''", "--readers is empty: name at least one", "matrix", "--readers", " "),
		Entry("matrix --writers cp,cp", `--writers "cp,cp": "cp" is listed twice`, "matrix", "--writers", "cp,cp"),
		Entry("matrix --readers mmap,bytes,mmap", `--readers "mmap,bytes,mmap": "mmap" is listed twice`, "matrix", "--readers", "mmap,bytes,mmap"),
		Entry("matrix --writers cp,,rename", `--writers "cp,,rename": an empty name`, "matrix", "--writers", "cp,,rename"),
		Entry("check --readers mmap,mmap", `--readers "mmap,mmap": "mmap" is listed twice`, "check", "--writer-cmd", "cp {new} {target}", "--readers", "mmap,mmap"),
		Entry("check --readers mmap,", `--readers "mmap,": an empty name`, "check", "--writer-cmd", "cp {new} {target}", "--readers", "mmap,"),
		Entry("check --readers '' without --reader-cmd", "--readers is empty and there is no --reader-cmd", "check", "--writer-cmd", "cp {new} {target}", "--readers", ""),
	)

	DescribeTable("help is not an error: -h and --help print the usage to stdout and exit 0",
		func(want string, args ...string) {
			for _, h := range []string{"-h", "--help"} {
				s := mapchaos(GinkgoT().TempDir(), append(args, h)...)
				Eventually(s).Should(gexec.Exit(0), "%s %s", strings.Join(args, " "), h)
				Expect(string(s.Out.Contents())).To(ContainSubstring(want))
				Expect(s.Err.Contents()).To(BeEmpty())
			}
		},
		Entry("mapchaos", "Usage:"),
		Entry("matrix", "-writers", "matrix"),
		Entry("check", "Usage: mapchaos check", "check"),
		Entry("explain", "Usage: mapchaos explain", "explain"),
		Entry("report", "Usage: mapchaos report merge", "report"),
		Entry("report merge", "-labels", "report", "merge"),
		Entry("list", "Usage: mapchaos list", "list"),
		Entry("config", "Usage: mapchaos config", "config"),
	)

	It("says a bad flag on stderr, not stdout, and exits 2", func() {
		s := mapchaos(GinkgoT().TempDir(), "matrix", "--nope")
		Eventually(s).Should(gexec.Exit(2))
		Expect(s.Out.Contents()).To(BeEmpty())
		Expect(s.Err).To(gbytes.Say("flag provided but not defined: -nope"))
	})
})

var _ = Describe("a matrix without expectations", Serial, func() {
	It("says that nothing was expected, not that every expectation held, and exits 0", func() {
		dir := GinkgoT().TempDir()
		writeConfig(dir, small[:strings.Index(small, "expect:")])
		s := mapchaos(dir, "matrix", "--out", "out", "--writers", "rename", "--updates", "2")
		Eventually(s).Should(gexec.Exit(0))
		Expect(s.Out).To(gbytes.Say(`rename\s+x mmap\s+safe\s+\(no expectation\)`))
		Expect(s.Out).To(gbytes.Say(`1 combinations observed, none expected: the config has no expectation`))
		Expect(string(s.Out.Contents())).NotTo(ContainSubstring("every expectation held"))
		_, err := os.Stat(filepath.Join(dir, "out", "report.json"))
		Expect(err).NotTo(HaveOccurred())
	})
})
