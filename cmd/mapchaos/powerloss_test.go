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

var _ = Describe("mapchaos matrix --mode power-loss, against expectations scoped to it", Serial, Label("ptrace"), func() {
	DescribeTable("meets a mode: power-loss expectation, and exits 1 when the power cut leaves what it does not allow",
		func(verdict string, code int, say string) {
			dir := GinkgoT().TempDir()
			writeConfig(dir, "fixture: {size: 256KiB, shape: shrink}\nrace: {seed: 42}\n"+
				"expect:\n  - {writer: rename-nofsync, reader: bytes, mode: power-loss, verdict: "+verdict+", why: the spec's}\n"+
				"  - {writer: rename-nofsync, reader: bytes, verdict: safe, why: live updates}\n")
			s := mapchaos(dir, "matrix", "--mode", "power-loss", "--writers", "rename-nofsync", "--readers", "bytes", "--updates", "1", "--out", "out")
			Eventually(s).Should(gexec.Exit(code))
			Expect(s.Out).To(gbytes.Say(`rename-nofsync +x bytes .*\(starting=\w+; \d+ crash states opened, \d+ lookups\)`))
			Expect(s.Out).To(gbytes.Say(say))
		},
		Entry("what a power cut leaves after an unsynced rename", "[degraded, corrupt]", 0, `every expectation held`),
		Entry("whole versions only: not met", "safe", 1, `\(expected safe\) !`),
	)
})
