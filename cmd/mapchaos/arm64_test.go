package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/internal/needs"
	"github.com/mapchaos/mapchaos/internal/proctest"
	"github.com/mapchaos/mapchaos/reports"
)

// realFault is how the Go runtime reports a SIGBUS on a truncated mapping
// on real arm64 (and under full-system emulation), unlike qemu-user, which
// loses the fault address: notes/go-runtime-faults.md.
var realFault = regexp.MustCompile(`unexpected fault address 0xffff[0-9a-f]{8}\n` +
	`fatal error: fault\n` +
	`\[signal SIGBUS: bus error code=0x2 addr=0xffff[0-9a-f]{8} pc=0x[0-9a-f]+\]`)

// shim makes a directory of stand-in programs: name -> shell script body,
// or "->path" for a symlink to a real program.
func shim(progs map[string]string) string {
	dir := GinkgoT().TempDir()
	for name, body := range progs {
		p := filepath.Join(dir, name)
		if target, ok := strings.CutPrefix(body, "->"); ok {
			Expect(os.Symlink(target, p)).To(Succeed())
			continue
		}
		Expect(os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755)).To(Succeed())
	}
	return dir
}

// unreachableApt stands in for apt-get and apt-cache when no package
// registry can be reached; it leaves a mark when called.
func unreachableApt(mark string) map[string]string {
	body := "echo \"$0 $*\" >> " + mark + "\necho 'E: Failed to fetch InRelease  Temporary failure resolving the mirror' >&2\nexit 100"
	return map[string]string{"apt-get": body, "apt-cache": body}
}

var _ = Describe("mapchaos matrix --arch arm64", Ordered, Serial, Label("arm64", "qemu"), func() {
	var qemu, goCmd string

	BeforeAll(func() {
		qemu = needs.Program("qemu-system-arm", "qemu-system-aarch64")
		var err error
		goCmd, err = exec.LookPath("go")
		Expect(err).NotTo(HaveOccurred())
	})

	It("races the matrix in a real arm64 kernel on ext4 and on tmpfs, with the hardware's fault, and agrees with amd64", func(_ SpecContext) {
		dir := GinkgoT().TempDir()
		writeConfig(dir, small)
		s := mapchaos(dir, "matrix", "--arch", "arm64", "--out", "arm64")
		Eventually(s, 10*time.Minute).Should(gexec.Exit(0))
		Expect(s.Out).To(gbytes.Say(`arm64 \| \[ 1/2 .*\] cp\s+x mmap\s+crash\s+ok`))
		Expect(s.Out).To(gbytes.Say(`arm64 timings: kernel (cached|downloaded in [0-9.]+s), build [0-9.]+s, boot [0-9.]+s, boot-to-result [0-9.]+s \(ext4 [0-9.]+s, tmpfs [0-9.]+s\)`))
		Expect(s.Out).To(gbytes.Say(`every expectation held on arm64`))

		for _, c := range []struct{ path, fs string }{
			{"arm64/report.json", "ext4"}, {"arm64/ext4/report.json", "ext4"}, {"arm64/tmpfs/report.json", "tmpfs"},
		} {
			By("checking " + c.path)
			rep, err := reports.Read(filepath.Join(dir, c.path))
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.Run.GOARCH).To(Equal("arm64"))
			Expect(rep.Run.Emulation).To(Equal("qemu-system"))
			Expect(rep.Run.Kernel).To(MatchRegexp(`^6\.\d+\.\d+-\d+-cloud-arm64$`))
			Expect(rep.Run.PageSize).To(Equal(4096))
			Expect(rep.Run.FS).To(Equal(c.fs))
			Expect(rep.Run.Seed).To(Equal(int64(5)))
			Expect(rep.Results).To(HaveLen(2))
			cp := rep.Results[0]
			Expect(cp.Writer + " " + cp.Reader + " " + cp.Verdict.String()).To(Equal("cp mmap crash"))
			Expect(cp.Met).To(BeTrue())
			Expect(cp.Evidence).NotTo(BeNil())
			Expect(cp.Evidence.Signal).To(Equal("SIGBUS"))
			Expect(cp.Evidence.Code).To(Equal("BUS_ADRERR"))
			Expect(cp.Evidence.Addr).To(MatchRegexp(`^0xffff[0-9a-f]{8}$`))
			Expect(cp.Evidence.Stderr).To(MatchRegexp(realFault.String()))
			Expect(cp.Evidence.Repro).To(Equal("mapchaos matrix --config ginkgo.yml --writers cp --readers mmap --seed 5 --arch arm64"))
			Expect(rep.Results[1].Verdict.String()).To(Equal("safe"))
		}
		for _, f := range []string{"report.md", "report.html", "junit.xml", "tmpfs/report.md", "by-fs/merged.md"} {
			Expect(filepath.Join(dir, "arm64", f)).To(BeAnExistingFile())
		}

		By("racing the same matrix natively and merging the two")
		Eventually(mapchaos(dir, "matrix", "--out", "amd64"), 5*time.Minute).Should(gexec.Exit(0))
		native, err := reports.Read(filepath.Join(dir, "amd64", "report.json"))
		Expect(err).NotTo(HaveOccurred())
		arm, err := reports.Read(filepath.Join(dir, "arm64", "report.json"))
		Expect(err).NotTo(HaveOccurred())
		m, err := reports.Merge([]reports.Report{native, arm}, []string{native.Run.GOARCH, "arm64"})
		Expect(err).NotTo(HaveOccurred())
		Expect(m.Rows).To(HaveLen(2))
		for _, row := range m.Rows {
			Expect(row.Differs).To(BeFalse(), "%s x %s: %s on %s, %s on arm64", row.Writer, row.Reader,
				row.Cells[0].Verdict, native.Run.GOARCH, row.Cells[1].Verdict)
		}
		Expect(reports.WriteMerged(filepath.Join(dir, "merged"), m)).To(Succeed())
		Expect(os.ReadFile(filepath.Join(dir, "merged", reports.MergedMarkdownFile))).To(ContainSubstring("0 of 2 combinations differ"))
	}, SpecTimeout(15*time.Minute))

	It("steps cp x mmap in the 16 KiB-page kernel: the fault starts at a 16 KiB boundary, and the report and the repro say the page size", func(_ SpecContext) {
		dir := GinkgoT().TempDir()
		writeConfig(dir, small)
		s := mapchaos(dir, "matrix", "--arch", "arm64", "--page-size", "16k", "--mode", "step", "--writers", "cp", "--out", "out16k")
		Eventually(s, 10*time.Minute).Should(gexec.Exit(0))
		Expect(s.Out).To(gbytes.Say(`-cpu max,pauth-impdef=on -smp 2 -m 1536 \(TCG\), 16 KiB pages`))
		m := regexp.MustCompile(`copy_file_range\("B.mmdb" -> "db.mmdb", (\d+) bytes\) = \d+ -> running: SIGBUS from offset (\d+) `).FindStringSubmatch(string(s.Out.Contents()))
		Expect(m).NotTo(BeNil(), "no SIGBUS after cp's copy")
		size, off := atoi(m[1]), atoi(m[2])
		Expect(off).To(Equal((size+16383)/16384*16384), "the fault starts at the 16 KiB page boundary past B's end")
		Expect(off).NotTo(Equal((size+4095)/4096*4096), "this B's 4 KiB boundary is another one")
		for _, fs := range []string{"ext4", "tmpfs"} {
			rep, err := reports.Read(filepath.Join(dir, "out16k", fs, "report.json"))
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.Run.PageSize).To(Equal(16384))
			Expect(rep.Run.Kernel).To(HaveSuffix("-arm64-16k"))
			Expect(rep.Results[0].Verdict.String()).To(Equal("crash"))
			Expect(rep.Results[0].Evidence.Repro).To(HaveSuffix("--arch arm64 --page-size 16k"))
		}
	}, SpecTimeout(15*time.Minute))

	It("downloads the kernel once; a second run reaches no registry and does not need to", func(_ SpecContext) {
		cache := GinkgoT().TempDir()
		GinkgoT().Setenv("MAPCHAOS_VM_CACHE", cache)
		dir := GinkgoT().TempDir()
		writeConfig(dir, small)
		first := mapchaos(dir, "matrix", "--arch", "arm64", "--writers", "cp", "--out", "first")
		Eventually(first, 10*time.Minute).Should(gexec.Exit(0))
		Expect(first.Out).To(gbytes.Say(`arm64: downloaded linux-image-\S+-cloud-arm64 \S+ in [0-9.]+s`))
		Expect(filepath.Join(cache, "kernel.json")).To(BeAnExistingFile())

		mark := filepath.Join(dir, "apt-called")
		GinkgoT().Setenv("PATH", shim(unreachableApt(mark))+":"+os.Getenv("PATH"))
		second := mapchaos(dir, "matrix", "--arch", "arm64", "--writers", "cp", "--out", "second")
		Eventually(second, 10*time.Minute).Should(gexec.Exit(0))
		Expect(second.Out).To(gbytes.Say(`arm64: kernel linux-image-\S+ \S+ \(cached, not downloaded\)`))
		Expect(mark).NotTo(BeAnExistingFile(), "the second run called apt")
	}, SpecTimeout(20*time.Minute))

	It("on Ctrl-C stops qemu and exits 3", func(_ SpecContext) {
		dir := GinkgoT().TempDir()
		GinkgoT().Setenv("TMPDIR", dir)
		writeConfig(dir, strings.Replace(small, "updates: 6", "updates: 5000", 1))
		s := mapchaos(dir, "matrix", "--arch", "arm64", "--writers", "rename", "--out", "out")
		Eventually(s.Out, 3*time.Minute).Should(gbytes.Say(`arm64 \| racing 1 combinations`))
		Expect(proctest.Mentioning(dir)).NotTo(BeEmpty(), "qemu runs")
		s.Signal(syscall.SIGINT)
		Eventually(s, time.Minute).Should(gexec.Exit(3))
		Expect(s.Err).To(gbytes.Say("interrupted"))
		Expect(proctest.Mentioning(dir)).To(BeEmpty(), "qemu outlived mapchaos")
	}, SpecTimeout(5*time.Minute))

	DescribeTable("when the harness cannot do its work: a clear message, a bounded wait, exit 3, no report, nothing left running",
		func(setup func(dir string) []string, within time.Duration, want ...string) {
			dir := GinkgoT().TempDir()
			GinkgoT().Setenv("TMPDIR", dir) // the work directory, and so qemu's command line, is under dir
			writeConfig(dir, small)
			args := append([]string{"matrix", "--arch", "arm64", "--out", "out"}, setup(dir)...)
			s := mapchaos(dir, args...)
			Eventually(s, within).Should(gexec.Exit(3))
			for _, w := range want {
				Expect(string(s.Err.Contents()) + string(s.Out.Contents())).To(ContainSubstring(w))
			}
			Expect(filepath.Join(dir, "out", "report.json")).NotTo(BeAnExistingFile())
			Expect(proctest.Mentioning(dir)).To(BeEmpty(), "qemu or a helper outlived mapchaos")
			leftovers, _ := filepath.Glob(filepath.Join(dir, "mapchaos-arm64-*"))
			Expect(leftovers).To(BeEmpty(), "the work directory was not removed")
		},
		Entry("no qemu-system-aarch64", func(dir string) []string {
			GinkgoT().Setenv("PATH", shim(map[string]string{"go": "->" + goCmd}))
			return nil
		}, time.Minute, "qemu-system-aarch64 not found in PATH: install the Debian package qemu-system-arm (apt-get install --no-install-recommends qemu-system-arm)"),
		Entry("no Go toolchain to build the harness for arm64", func(dir string) []string {
			GinkgoT().Setenv("PATH", shim(map[string]string{"qemu-system-aarch64": "->" + qemu}))
			GinkgoT().Setenv("GOROOT", "")
			return nil
		}, time.Minute, "the Go toolchain (go) is not in PATH"),
		Entry("no source to build", func(dir string) []string {
			GinkgoT().Setenv("MAPCHAOS_SRC", dir)
			return nil
		}, time.Minute, "no go.mod declaring module github.com/mapchaos/mapchaos there"),
		Entry("no kernel package reachable", func(dir string) []string {
			GinkgoT().Setenv("MAPCHAOS_VM_CACHE", filepath.Join(dir, "empty-cache"))
			GinkgoT().Setenv("PATH", shim(unreachableApt(filepath.Join(dir, "apt-called")))+":"+os.Getenv("PATH"))
			return nil
		}, 2*time.Minute, "cannot get the arm64 kernel (Debian's linux-image-cloud-arm64, downloaded once with apt-get into ", "apt-get update (arm64): exit status 100", "E: Failed to fetch"),
		Entry("a guest that runs past the timeout", func(dir string) []string {
			GinkgoT().Setenv("MAPCHAOS_VM_TIMEOUT", "40s")
			writeConfig(dir, strings.Replace(small, "updates: 6", "updates: 5000", 1))
			return []string{"--writers", "rename"}
		}, 4*time.Minute, "the harness failed in the guest on ext4: exit -1 (timeout: killed after 30s)",
			"step ext4 timed out; tasks in uninterruptible sleep (D):", "step ext4: SIGQUIT to its process group", "racing 1 combinations"),
	)
})

// atoi reads a decimal the spec's regexp matched.
func atoi(s string) int {
	n, err := strconv.Atoi(s)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return n
}
