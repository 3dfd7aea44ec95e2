package main_test

import (
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/internal/needs"
	"github.com/mapchaos/mapchaos/reports"
)

var _ = Describe("mapchaos matrix --arch amd64 --fs: a file system made inside the guest", Label("amd64", "qemu"), func() {
	It("steps the matrix on xfs made in the amd64 guest and marks the report with the guest", func(_ SpecContext) {
		needs.Program("qemu-system-x86", "qemu-system-x86_64")
		dir := GinkgoT().TempDir()
		writeConfig(dir, small)
		s := mapchaos(dir, "matrix", "--arch", "amd64", "--fs", "xfs", "--mode", "step", "--out", "out")
		Eventually(s, 12*time.Minute).Should(gexec.Exit(0))
		Expect(s.Out).To(gbytes.Say(`amd64: booting .* running 2 combinations on xfs`))
		rep, err := reports.Read(filepath.Join(dir, "out", "xfs", "report.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Run.FS).To(Equal("xfs"))
		Expect(rep.Run.GOARCH).To(Equal("amd64"))
		Expect(rep.Run.Emulation).To(Equal("qemu-system"))
		Expect(rep.Results).To(HaveLen(2))
		for _, e := range rep.Results {
			if e.Evidence != nil {
				Expect(e.Evidence.Repro).To(ContainSubstring("--fs xfs"))
				Expect(e.Evidence.Repro).To(ContainSubstring("--arch amd64"))
			}
		}
	}, SpecTimeout(13*time.Minute))
})
