package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/reports"
)

var _ = Describe("mapchaos-vm suites", func() {
	DescribeTable("bad usage: exit 2 and a message, before anything is built or booted",
		func(args []string, want string) {
			var out, errb bytes.Buffer
			Expect(run(context.Background(), args, &out, &errb)).To(Equal(exitUsage))
			Expect(errb.String()).To(ContainSubstring(want))
			Expect(out.String()).To(BeEmpty())
		},
		Entry("no command", []string{}, "Usage:"),
		Entry("another command", []string{"boot"}, "Usage:"),
		Entry("an unknown file system", []string{"suites", "--fs", "xfs"}, `--fs "xfs": want ext4 or tmpfs`),
		Entry("no package", []string{"suites", "--packages", ","}, "--packages: name at least one package"),
		Entry("no file system", []string{"suites", "--fs", ","}, "--fs: name ext4, tmpfs or both"),
		Entry("a package outside the module", []string{"suites", "--packages", "../other"}, "is not a package of the module"),
		Entry("a stray argument", []string{"suites", "extra"}, `unexpected argument "extra"`),
		Entry("an unknown flag", []string{"suites", "--arch", "x"}, "flag provided but not defined: -arch"),
	)

	It("exits 3 with the reason when there is no qemu", func() {
		GinkgoT().Setenv("PATH", "/nonexistent")
		GinkgoT().Setenv("MAPCHAOS_QEMU", "")
		var out, errb bytes.Buffer
		Expect(run(context.Background(), []string{"suites"}, &out, &errb)).To(Equal(exitHarness))
		Expect(errb.String()).To(ContainSubstring("qemu-system-aarch64 not found in PATH: install the Debian package qemu-system-arm"))
	})

	It("runs each test binary in its package directory, with the prebuilt mapchaos and its file system's TMPDIR", func() {
		runs, err := parseRuns(suiteOptions{packages: "suites/matrix,./verdicts", fs: "ext4,tmpfs"})
		Expect(err).NotTo(HaveOccurred())
		Expect(runs).To(HaveLen(4))
		steps := suiteSteps(runs, map[string]suitePkg{"./suites/matrix": {ginkgo: true}}, "-ginkgo.label-filter=matrix")
		m := steps[1]
		Expect(m.Name).To(Equal("suites-matrix@tmpfs"))
		Expect(m.Dir).To(Equal("/mnt/disk/src/suites/matrix"))
		Expect(m.Argv).To(ContainElements("/mnt/disk/src/suites/matrix/suites-matrix.test",
			"-ginkgo.junit-report=/mnt/tmpfs/suites/suites-matrix/junit.xml", "-ginkgo.label-filter=matrix"))
		Expect(m.Env).To(ContainElements("MAPCHAOS_BIN=/mnt/disk/bin/mapchaos", "TMPDIR=/mnt/tmpfs/suites/suites-matrix/tmp",
			"MAPCHAOS_OUT=/mnt/tmpfs/suites/suites-matrix/report", "MAPCHAOS_CACHE=/mnt/disk/cache"))
		Expect(m.Mkdir).To(Equal([]string{"/mnt/tmpfs/suites/suites-matrix/tmp"}))
		v := steps[2]
		Expect(v.Name).To(Equal("verdicts@ext4"))
		Expect(v.Argv).To(ContainElement("-test.v"))
		Expect(v.Argv).NotTo(ContainElement(ContainSubstring("-ginkgo.")), "a plain go test binary takes no Ginkgo flags")
	})

	It("marks the matrix suite's report as run under qemu-system, and leaves a run without one alone", func() {
		dir := GinkgoT().TempDir()
		Expect(markReport(filepath.Join(dir, "none"))).To(Succeed())
		Expect(reports.WriteAll(dir, reports.Report{Schema: reports.Schema,
			Run: reports.Run{GOOS: "linux", GOARCH: "arm64", Emulation: "none", Seed: 42, Mode: "race"}})).To(Succeed())
		Expect(markReport(dir)).To(Succeed())
		rep, err := reports.Read(filepath.Join(dir, "report.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Run.Emulation).To(Equal("qemu-system"))
		Expect(rep.Run.GOARCH).To(Equal("arm64"))
		Expect(rep.Run.Warnings).To(ContainElement(ContainSubstring("full-system emulation")))
		Expect(os.ReadFile(filepath.Join(dir, "report.md"))).To(ContainSubstring("qemu-system"))
	})

	It("reads the totals of a Ginkgo junit report", func() {
		p := filepath.Join(GinkgoT().TempDir(), "junit.xml")
		Expect(os.WriteFile(p, []byte(`<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="12" disabled="1" errors="0" failures="2" time="3.5">
  <testsuite name="Engine Suite" tests="12" skipped="3" failures="2" errors="0"></testsuite>
</testsuites>`), 0o644)).To(Succeed())
		c, err := readJUnit(p)
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Tests).To(Equal(12))
		Expect(c.Failures).To(Equal(2))
		Expect(c.Skipped).To(Equal(3))
		Expect(c.passed()).To(Equal(7))
		_, err = readJUnit(filepath.Join(GinkgoT().TempDir(), "none.xml"))
		Expect(err).To(HaveOccurred())
	})

	It("lists each skipped spec with its reason, and counts the ones a filter left out apart", func() {
		p := filepath.Join(GinkgoT().TempDir(), "junit.xml")
		Expect(os.WriteFile(p, []byte(`<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="4" disabled="2" errors="0" failures="0">
  <testsuite name="CLI Suite" tests="4" skipped="2" failures="0" errors="0">
    <testcase name="[It] runs" status="passed"></testcase>
    <testcase name="[It] renders" status="passed"></testcase>
    <testcase name="[It] opens the page" status="skipped"><skipped message="skipped - missing: chromium"></skipped></testcase>
    <testcase name="[It] boots qemu" status="skipped"><skipped message="skipped"></skipped></testcase>
  </testsuite>
</testsuites>`), 0o644)).To(Succeed())
		c, err := readJUnitSkips(p)
		Expect(err).NotTo(HaveOccurred())
		Expect(c.skips).To(Equal([]string{"[It] opens the page: skipped - missing: chromium"}))
		Expect(c.Skipped).To(Equal(1))
		Expect(c.Filtered).To(Equal(1))
		Expect(c.passed()).To(Equal(2))
		Expect(c.failures).To(BeEmpty())
	})

	It("names each failed spec with what Ginkgo recorded, in the form CI's log search finds", func() {
		p := filepath.Join(GinkgoT().TempDir(), "junit.xml")
		Expect(os.WriteFile(p, []byte(`<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="2" disabled="0" errors="0" failures="1">
  <testsuite name="Step Suite" tests="2" skipped="0" failures="1" errors="0">
    <testcase name="[It] runs" status="passed"></testcase>
    <testcase name="[It] steps cp" status="failed"><failure message="Expected 3 to equal 4" type="failed">[FAILED] Expected 3 to equal 4
In [It] at: /src/step/step_test.go:42</failure></testcase>
  </testsuite>
</testsuites>`), 0o644)).To(Succeed())
		c, err := readJUnitSkips(p)
		Expect(err).NotTo(HaveOccurred())
		Expect(c.failures).To(HaveLen(1))
		Expect(c.failures[0].Message).To(Equal("[It] steps cp: Expected 3 to equal 4"))

		var out strings.Builder
		printFailed(&out, c.failures)
		Expect(out.String()).To(MatchRegexp(`(?m)^\s*\[FAILED\] \[It\] steps cp: Expected 3 to equal 4$`))
		Expect(out.String()).To(ContainSubstring("step_test.go:42"))
	})

	It("copies trees by hard link, and a missing tree is nothing to copy", func() {
		src := GinkgoT().TempDir()
		Expect(os.MkdirAll(filepath.Join(src, "a", "b"), 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(src, "a", "b", "f"), []byte("x"), 0o600)).To(Succeed())
		dst := filepath.Join(GinkgoT().TempDir(), "copy")
		Expect(copyTree(src, dst)).To(Succeed())
		Expect(os.ReadFile(filepath.Join(dst, "a", "b", "f"))).To(Equal([]byte("x")))
		Expect(copyTree(filepath.Join(src, "missing"), filepath.Join(dst, "m"))).To(Succeed())
		Expect(filepath.Join(dst, "m")).NotTo(BeAnExistingFile())
	})
})
