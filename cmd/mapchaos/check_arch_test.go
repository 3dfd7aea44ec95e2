package main_test

import (
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/internal/needs"
	"github.com/mapchaos/mapchaos/reports"
)

var _ = Describe("mapchaos check --arch arm64 --stage", func() {
	DescribeTable("bad flags stop before anything is built or booted (exit 2)",
		func(want string, args ...string) {
			dir := GinkgoT().TempDir()
			s := mapchaos(dir, append([]string{"check", "--writer-cmd", "cp {new} {target}", "--out", "out"}, args...)...)
			Eventually(s).Should(gexec.Exit(2))
			Expect(s.Err).To(gbytes.Say(want))
			Expect(filepath.Join(dir, "out")).NotTo(BeAnExistingFile())
		},
		Entry("--stage without a guest", "--stage copies files into the guest of --arch arm64", "--stage", "."),
		Entry("a --stage path that does not exist", `--stage nope: no such file or directory`, "--arch", "arm64", "--stage", "nope"),
		Entry("an unknown --arch", `--arch "sparc": want native, arm64 or amd64`, "--arch", "sparc"),
		Entry("--page-size without a guest", `--page-size 16k needs --arch arm64`, "--page-size", "16k"),
		Entry("a page size the guest lacks", `--page-size: the arm64 guest has no kernel with 8k pages: it offers 4k and 16k`, "--arch", "arm64", "--page-size", "8k"),
	)

	It("runs a staged updater script and a staged Python reader inside the arm64 guest, on ext4 and tmpfs", Label("arm64", "qemu"), func(_ SpecContext) {
		needs.Program("qemu-system-arm", "qemu-system-aarch64")
		dir := GinkgoT().TempDir()
		// The user's updater: cp truncates the mapped file (SIGBUS for mmap).
		Expect(os.MkdirAll(filepath.Join(dir, "tools"), 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(dir, "tools", "update.sh"), []byte("#!/bin/sh\nset -eu\ncp \"$1\" \"$2\"\n"), 0o755)).To(Succeed())
		reader, err := filepath.Abs(filepath.Join("..", "..", "readers", "foreign", "mmdb_reader.py"))
		Expect(err).NotTo(HaveOccurred())
		s := mapchaos(dir, "check", "--arch", "arm64", "--updates", "4", "--size", "1MiB", "--readers", "mmap",
			"--writer-cmd", "./tools/update.sh {new} {target}", "--stage", "tools",
			"--reader-cmd", "python3 mmdb_reader.py {target}", "--stage", reader, "--out", "out")
		Eventually(s, 12*time.Minute).Should(gexec.Exit(1))
		Expect(s.Out).To(gbytes.Say(`on ext4 in the arm64 guest`))
		for _, fs := range []string{"ext4", "tmpfs"} {
			rep, err := reports.Read(filepath.Join(dir, "out", fs, "report.json"))
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.Run.GOARCH).To(Equal("arm64"))
			Expect(rep.Run.Emulation).To(Equal("qemu-system"))
			Expect(rep.Run.FS).To(Equal(fs))
			Expect(rep.Results).To(HaveLen(2))
			byReader := map[string]reports.Entry{}
			for _, e := range rep.Results {
				Expect(e.WriterError).To(BeEmpty(), "the staged updater ran in the guest")
				byReader[e.Reader] = e
			}
			Expect(byReader["mmap"].Verdict.String()).To(Equal("crash"), fs)
			Expect(byReader["mmap"].Evidence.Repro).To(ContainSubstring("--stage tools"))
			Expect(byReader).To(HaveKey("exec"), "the Python reader ran in the guest")
			Expect(byReader["exec"].Verdict.String()).To(Equal("crash"), "python3 (libmaxminddb maps the file) dies by SIGBUS in the guest too")
		}
	}, SpecTimeout(15*time.Minute))
})
