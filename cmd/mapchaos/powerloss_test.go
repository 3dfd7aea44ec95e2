package main_test

import (
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/reports"
)

var _ = Describe("mapchaos check --mode power-loss, on real tools", Serial, Label("ptrace"), func() {
	DescribeTable("opens every crash state with a restarted reader and exits 1 when one cannot serve",
		func(cmd, model string, code int, say string) {
			dir := GinkgoT().TempDir()
			s := mapchaos(dir, "check", "--out", "out", "--mode", "power-loss", "--model", model, "--size", "256KiB",
				"--readers", "bytes", "--writer-cmd", cmd)
			Eventually(s).Should(gexec.Exit(code))
			Expect(s.Out).To(gbytes.Say(say))
			rep, err := reports.Read(filepath.Join(dir, "out", "report.json"))
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.Run.Mode).To(Equal("power-loss"))
			pl := rep.Results[0].PowerLoss
			Expect(pl).NotTo(BeNil())
			Expect(pl.Model).To(Equal(model))
			Expect(pl.Updates).To(HaveLen(2))
			Expect(string(s.Out.Contents())).NotTo(ContainSubstring("--mode step to stop"))
		},
		Entry("mv renames a file already on disk: safe", "mv {new} {target}", "posix", 0, "SAFE"),
		Entry("cp: an empty target after the truncating open", "cp {new} {target}", "posix", 1, `UNSAFE: after a power loss`),
		Entry("rsync -I renames an unsynced file: down", "rsync -I {new} {target}", "posix", 1, `UNSAFE: after a power loss`),
		Entry("rsync -I --fsync: safe", "rsync -I --fsync {new} {target}", "ext4-ordered", 0, "SAFE"),
	)
})
