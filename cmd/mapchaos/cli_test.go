package main_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/internal/proctest"
	"github.com/mapchaos/mapchaos/reports"
)

// small is a quick real matrix: a 256 KiB fixture, few updates.
const small = `
fixture: {size: 256KiB, shape: shrink}
race: {updates: 6, running_readers: 2, starting_readers: 1, reload: 20ms, gap: 20ms, seed: 5}
writers: [cp, rename]
readers: [mmap]
expect:
  - {writer: cp, reader: mmap, verdict: crash, why: "truncation under a live mapping"}
  - {writer: rename, reader: mmap, verdict: safe, why: "the old inode stays whole"}
`

func mapchaos(dir string, args ...string) *gexec.Session {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	return s
}

func writeConfig(dir, text string) string {
	p := filepath.Join(dir, "ginkgo.yml")
	Expect(os.WriteFile(p, []byte(text), 0o644)).To(Succeed())
	return p
}

var _ = Describe("mapchaos list", func() {
	It("prints every writer and reader, sorted", func() {
		s := mapchaos(GinkgoT().TempDir(), "list")
		Eventually(s).Should(gexec.Exit(0))
		out := string(s.Out.Contents())
		for _, name := range []string{"cp", "inplace", "remove-create", "rename", "symlink-recreate", "symlink-swap", "bytes", "mmap", "mmap-recover"} {
			Expect(out).To(ContainSubstring(name))
		}
		Expect(strings.Index(out, "\ncp ")).To(BeNumerically("<", strings.Index(out, "\nrename ")))
	})
})

var _ = Describe("bad usage, config or input: exit 2, a message naming it, nothing written", func() {
	DescribeTable("matrix",
		func(setup func(dir string) []string, msg string) {
			dir := GinkgoT().TempDir()
			args := setup(dir)
			s := mapchaos(dir, args...)
			Eventually(s).Should(gexec.Exit(2))
			Expect(s.Err).To(gbytes.Say(regexpQuote(msg)))
			Expect(filepath.Join(dir, "out")).NotTo(BeAnExistingFile())
		},
		Entry("unknown writer", func(dir string) []string {
			return []string{"matrix", "--writers", "scp", "--out", "out"}
		}, `--writers: unknown writer "scp": known writers are cp, inplace`),
		Entry("unknown reader", func(dir string) []string {
			return []string{"matrix", "--readers", "mmapp", "--out", "out"}
		}, `unknown reader "mmapp"`),
		Entry("missing config file", func(dir string) []string {
			return []string{"matrix", "--config", "nope.yml", "--out", "out"}
		}, "nope.yml: no such file"),
		Entry("an endless config file", func(dir string) []string {
			return []string{"matrix", "--config", "/dev/zero", "--out", "out"}
		}, "config: /dev/zero: larger than 1 MiB, the most mapchaos reads for a config file (ginkgo.yml)"),
		Entry("unknown key in ginkgo.yml", func(dir string) []string {
			writeConfig(dir, "race:\n  updates: 3\n  sped: 4\n")
			return []string{"matrix", "--config", "ginkgo.yml", "--out", "out"}
		}, `ginkgo.yml:3: unknown key "sped" in race`),
		Entry("bad size", func(dir string) []string {
			writeConfig(dir, "fixture: {size: huge}\n")
			return []string{"matrix", "--config", "ginkgo.yml", "--out", "out"}
		}, `fixture.size is "huge"`),
		Entry("unknown mode", func(dir string) []string {
			return []string{"matrix", "--mode", "fast", "--out", "out"}
		}, `--mode "fast": want race, step or power-loss`),
		Entry("unknown persistence model", func(dir string) []string {
			return []string{"matrix", "--mode", "power-loss", "--model", "zfs", "--out", "out"}
		}, `--model: unknown persistence model "zfs": want posix or ext4-ordered`),
		Entry("--kernel-check outside power-loss mode", func(dir string) []string {
			return []string{"matrix", "--kernel-check", "--out", "out"}
		}, "--kernel-check checks the power-loss models: it needs --mode power-loss"),
		Entry("--kernel-check with another model", func(dir string) []string {
			return []string{"matrix", "--mode", "power-loss", "--kernel-check", "--model", "posix", "--out", "out"}
		}, "--kernel-check on ext4 checks the ext4-ordered model, not --model posix"),
		Entry("--kernel-check on xfs with ext4's model", func(dir string) []string {
			return []string{"matrix", "--mode", "power-loss", "--kernel-check", "--fs", "xfs", "--model", "ext4-ordered", "--out", "out"}
		}, "--kernel-check on xfs checks the posix model, not --model ext4-ordered"),
		Entry("--kernel-check on a file system it cannot log", func(dir string) []string {
			return []string{"matrix", "--mode", "power-loss", "--kernel-check", "--fs", "btrfs", "--out", "out"}
		}, "--kernel-check runs the updates on ext4 (the default) or xfs over dm-log-writes, not on --fs btrfs"),
		Entry("unknown architecture", func(dir string) []string {
			return []string{"matrix", "--arch", "riscv64", "--out", "out"}
		}, `--arch "riscv64": want native, arm64 or amd64`),
		Entry("--page-size without a guest", func(dir string) []string {
			return []string{"matrix", "--page-size", "16k", "--out", "out"}
		}, `--page-size 16k needs --arch arm64`),
		Entry("a page size the arm64 guest lacks", func(dir string) []string {
			return []string{"matrix", "--arch", "arm64", "--page-size", "64k", "--out", "out"}
		}, `--page-size: the arm64 guest has no kernel with 64k pages: it offers 4k and 16k (Debian packages no 64 KiB-page arm64 kernel`),
		Entry("16 KiB pages on the amd64 guest", func(dir string) []string {
			return []string{"matrix", "--arch", "amd64", "--page-size", "16k", "--out", "out"}
		}, `--page-size: the amd64 guest has no kernel with 16k pages: it offers 4k`),
		Entry("a page size that is no size", func(dir string) []string {
			return []string{"matrix", "--arch", "arm64", "--page-size", "big", "--out", "out"}
		}, `--page-size: page size "big": want 4k or 16k`),
		Entry("--old without --new", func(dir string) []string {
			return []string{"matrix", "--old", "a.mmdb", "--out", "out"}
		}, "--old and --new go together"),
		Entry("an own pair that is not a MaxMind DB", func(dir string) []string {
			Expect(os.WriteFile(filepath.Join(dir, "old.mmdb"), []byte("hello"), 0o644)).To(Succeed())
			Expect(os.WriteFile(filepath.Join(dir, "new.mmdb"), []byte("hello"), 0o644)).To(Succeed())
			return []string{"matrix", "--old", "old.mmdb", "--new", "new.mmdb", "--out", "out"}
		}, "old.mmdb is not a valid MaxMind DB file"),
		Entry("an empty own file", func(dir string) []string {
			Expect(os.WriteFile(filepath.Join(dir, "old.mmdb"), nil, 0o644)).To(Succeed())
			Expect(os.WriteFile(filepath.Join(dir, "new.mmdb"), []byte("hello"), 0o644)).To(Succeed())
			return []string{"matrix", "--old", "old.mmdb", "--new", "new.mmdb", "--out", "out"}
		}, "fixture: old.mmdb: the file is empty (0 bytes): want a MaxMind DB (.mmdb) file"),
		Entry("an own file that is a device", func(dir string) []string {
			Expect(os.WriteFile(filepath.Join(dir, "new.mmdb"), []byte("hello"), 0o644)).To(Succeed())
			return []string{"matrix", "--old", "/dev/zero", "--new", "new.mmdb", "--out", "out"}
		}, "fixture: /dev/zero: a character device, not a regular file"),
		Entry("a reader that needs another fixture kind", func(dir string) []string {
			writeConfig(dir, "writers: [cp]\n")
			return []string{"matrix", "--config", "ginkgo.yml", "--readers", "geoip2-city", "--out", "out"}
		}, "reader geoip2-city needs fixture kind geoip2-city"),
		Entry("a typed reader with an own pair", func(dir string) []string {
			p, err := fixtures.Generate(context.Background(), fixtures.Spec{Size: fixtures.MinSize, Kind: fixtures.KindCity}, filepath.Join(dir, "cache"))
			Expect(err).NotTo(HaveOccurred())
			writeConfig(dir, "writers: [cp]\nfixture: {kind: geoip2-city}\n")
			return []string{"matrix", "--config", "ginkgo.yml", "--readers", "geoip2-city", "--old", p.A, "--new", p.B, "--out", "out"}
		}, "reader geoip2-city checks its answers in the typed fields of a generated geoip2-city fixture, so it cannot race your own pair"),
		Entry("a stray argument", func(dir string) []string {
			return []string{"matrix", "extra", "--out", "out"}
		}, `unexpected argument "extra"`),
	)

	It("refuses an output directory that holds someone else's files, and leaves them alone", func() {
		dir := GinkgoT().TempDir()
		out := filepath.Join(dir, "precious")
		Expect(os.MkdirAll(filepath.Join(out, "runs"), 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(out, "runs", "keep.txt"), []byte("mine"), 0o644)).To(Succeed())
		s := mapchaos(dir, "matrix", "--out", out)
		Eventually(s).Should(gexec.Exit(2))
		Expect(s.Err).To(gbytes.Say("it holds runs, which mapchaos did not write"))
		Expect(os.ReadFile(filepath.Join(out, "runs", "keep.txt"))).To(Equal([]byte("mine")))
	})

	It("refuses an output directory it cannot create", func() {
		dir := GinkgoT().TempDir()
		Expect(os.WriteFile(filepath.Join(dir, "file"), nil, 0o644)).To(Succeed())
		s := mapchaos(dir, "matrix", "--out", filepath.Join(dir, "file", "out"))
		Eventually(s).Should(gexec.Exit(2))
		Expect(s.Err).To(gbytes.Say("--out .*/file/out: cannot"))
	})

	It("exits 2 on an unknown command and with no command", func() {
		Eventually(mapchaos(GinkgoT().TempDir(), "frobnicate")).Should(gexec.Exit(2))
		Eventually(mapchaos(GinkgoT().TempDir())).Should(gexec.Exit(2))
	})
})

func regexpQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `.`, `\.`, `(`, `\(`, `)`, `\)`, `[`, `\[`, `]`, `\]`, `*`, `\*`, `+`, `\+`, `?`, `\?`, `|`, `\|`, `{`, `\{`, `}`, `\}`, `^`, `\^`, `$`, `\$`)
	return r.Replace(s)
}

var _ = Describe("a config that never ends", func() {
	It("on Ctrl-C, exits 3 saying it was interrupted", func() {
		dir := GinkgoT().TempDir()
		Expect(syscall.Mkfifo(filepath.Join(dir, "ginkgo.yml"), 0o600)).To(Succeed()) // no writer ever opens it
		s := mapchaos(dir, "matrix", "--config", "ginkgo.yml", "--out", "out")
		Consistently(s, 300*time.Millisecond).ShouldNot(gexec.Exit())
		s.Signal(syscall.SIGINT)
		Eventually(s).Should(gexec.Exit(3))
		Expect(s.Err).To(gbytes.Say(regexpQuote("config: ginkgo.yml: waiting for a writer to open the FIFO: context canceled")))
		Expect(s.Err).To(gbytes.Say("interrupted"))
		Expect(filepath.Join(dir, "out")).NotTo(BeAnExistingFile())
	})
})

var _ = Describe("mapchaos matrix, for real", Serial, func() {
	It("races, prints progress and the matrix, writes the report, and exits 0 when every expectation held", func() {
		dir := GinkgoT().TempDir()
		writeConfig(dir, small)
		s := mapchaos(dir, "matrix", "--out", "out")
		Eventually(s).Should(gexec.Exit(0))
		Expect(s.Out).To(gbytes.Say(`^config: \./ginkgo\.yml\n`))
		Expect(s.Out).To(gbytes.Say(`\[ 1/2 .*\] cp\s+x mmap\s+crash\s+ok`))
		Expect(s.Out).To(gbytes.Say(`\[ 2/2 .*\] rename\s+x mmap\s+safe\s+ok`))
		Expect(s.Out).To(gbytes.Say(`every expectation held`))
		for _, f := range []string{"report.json", "report.md", "report.html", "junit.xml"} {
			Expect(filepath.Join(dir, "out", f)).To(BeAnExistingFile())
		}
		rep, err := reports.Read(filepath.Join(dir, "out", "report.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Run.Seed).To(Equal(int64(5)))
		Expect(rep.Run.Kernel).NotTo(BeEmpty())
		Expect(rep.Results).To(HaveLen(2))
		cp := rep.Results[0]
		Expect(cp.Writer + " " + cp.Reader + " " + cp.Verdict.String()).To(Equal("cp mmap crash"))
		Expect(cp.Met).To(BeTrue())
		Expect(cp.Evidence.Signal).To(Equal("SIGBUS"))
		Expect(cp.Evidence.Repro).To(Equal("mapchaos matrix --config ginkgo.yml --writers cp --readers mmap --seed 5"))

		By("running the repro command of the evidence again")
		args := strings.Fields(cp.Evidence.Repro)[1:]
		again := mapchaos(dir, append(args, "--out", "again")...)
		Eventually(again).Should(gexec.Exit(0))
		back, err := reports.Read(filepath.Join(dir, "again", "report.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(back.Results).To(HaveLen(1))
		Expect(back.Results[0].Verdict).To(Equal(cp.Verdict))
		Expect(back.Results[0].Evidence.Code).To(Equal("BUS_ADRERR"))

		By("writing beside other files in the output directory, such as the suites' subdirectories")
		Expect(os.MkdirAll(filepath.Join(dir, "shared", "suite"), 0o755)).To(Succeed())
		Eventually(mapchaos(dir, "matrix", "--out", "shared", "--writers", "rename")).Should(gexec.Exit(0))
		Expect(filepath.Join(dir, "shared", "suite")).To(BeADirectory())

		By("reusing its own output directory")
		Eventually(mapchaos(dir, "matrix", "--out", "out", "--writers", "rename")).Should(gexec.Exit(0))
	})

	It("exits 1 when an observation contradicts an expectation", func() {
		dir := GinkgoT().TempDir()
		writeConfig(dir, strings.Replace(small, "verdict: crash", "verdict: safe", 1))
		s := mapchaos(dir, "matrix", "--out", "out", "--writers", "cp")
		Eventually(s).Should(gexec.Exit(1))
		Expect(s.Out).To(gbytes.Say(`UNEXPECTED \(expected safe\)`))
		var raw map[string]any
		b, err := os.ReadFile(filepath.Join(dir, "out", "report.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(json.Unmarshal(b, &raw)).To(Succeed())
		Expect(raw["results"].([]any)[0].(map[string]any)["met"]).To(BeFalse())
	})

	It("on Ctrl-C stops every reader it started and exits 3", func() {
		dir := GinkgoT().TempDir()
		writeConfig(dir, strings.Replace(small, "updates: 6", "updates: 5000", 1))
		s := mapchaos(dir, "matrix", "--out", "out")
		Eventually(func() []string { return proctest.Mentioning(filepath.Join(dir, "out")) }).ShouldNot(BeEmpty())
		time.Sleep(300 * time.Millisecond)
		s.Signal(syscall.SIGINT)
		Eventually(s).Should(gexec.Exit(3))
		Expect(s.Err).To(gbytes.Say("interrupted"))
		Expect(proctest.Mentioning(filepath.Join(dir, "out"))).To(BeEmpty())
	})
})
