package main_test

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/internal/needs"
	"github.com/mapchaos/mapchaos/reports"

	"path/filepath"
)

// The kernel check in the amd64 guest: rename and rename-nofsync run on
// ext4 over dm-log-writes, every replay of the kernel's log must leave a
// state the ext4-ordered model allows, and rename only whole versions.
var _ = Describe("mapchaos matrix --mode power-loss --kernel-check", Serial, Label("amd64", "qemu", "kernel-check"), func() {
	It("finds every state the kernel leaves in the ext4-ordered model; rename leaves whole A or whole B only", func(_ SpecContext) {
		needs.Program("qemu-system-x86", "qemu-system-x86_64")
		dir := GinkgoT().TempDir()
		s := mapchaos(dir, "matrix", "--mode", "power-loss", "--kernel-check", "--writers", "rename,rename-nofsync",
			"--readers", "bytes", "--updates", "1", "--out", "out")
		Eventually(s, 25*time.Minute).Should(gexec.Exit())
		Expect(s.ExitCode()).To(BeElementOf(0, 1), "1: rename-nofsync is unsafe after a power cut; anything else is a failure of the run")
		rep, err := reports.Read(filepath.Join(dir, "out", "ext4", "report.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Results).To(HaveLen(2))
		for _, e := range rep.Results {
			Expect(e.PowerLoss).NotTo(BeNil())
			Expect(e.PowerLoss.Model).To(Equal("ext4-ordered"))
			Expect(e.PowerLoss.Missed).To(BeNil(), "%s: a state of the kernel's log that the model does not allow", e.Writer)
			for _, u := range e.PowerLoss.Updates {
				k := u.Kernel
				Expect(k).NotTo(BeNil(), "%s %s: no kernel check", e.Writer, u.Update)
				Expect(k.Replays).To(BeNumerically(">", k.Barriers), "every barrier and the points between are replayed")
				Expect(k.States).NotTo(BeEmpty())
				for _, ks := range k.States {
					Expect(ks.InModel).To(BeTrue(), "%s: kernel state %d (log entry %d %s): %s", e.Writer, ks.ID, ks.Entry, ks.What, ks.OnDisk)
					if e.Writer == "rename" {
						Expect(ks.Name).To(BeElementOf("whole A", "whole B"), "rename: kernel state %d (log entry %d)", ks.ID, ks.Entry)
					}
				}
			}
		}
	})
})

// The same on xfs, checked against posix (there is no model of xfs's own):
// a 1 MiB pair and one update each keep it small.
var _ = Describe("mapchaos matrix --mode power-loss --kernel-check --fs xfs", Serial, Label("amd64", "qemu", "kernel-check", "fs"), func() {
	It("finds every state xfs leaves in the posix model; rename leaves whole A or whole B only", func(_ SpecContext) {
		needs.Program("qemu-system-x86", "qemu-system-x86_64")
		dir := GinkgoT().TempDir()
		writeConfig(dir, "fixture: {size: 1MiB}\n")
		s := mapchaos(dir, "matrix", "--mode", "power-loss", "--kernel-check", "--fs", "xfs", "--config", "ginkgo.yml",
			"--writers", "rename,rename-nofsync", "--readers", "bytes", "--updates", "1", "--out", "out")
		Eventually(s, 25*time.Minute).Should(gexec.Exit())
		Expect(s.ExitCode()).To(BeElementOf(0, 1), "1: rename-nofsync is unsafe after a power cut under posix; anything else is a failure of the run")
		Expect(string(s.Out.Contents())).To(ContainSubstring("(xfs over dm-log-writes, Linux "))
		rep, err := reports.Read(filepath.Join(dir, "out", "xfs", "report.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Results).To(HaveLen(2))
		for _, e := range rep.Results {
			Expect(e.PowerLoss).NotTo(BeNil())
			Expect(e.PowerLoss.Model).To(Equal("posix"))
			Expect(e.PowerLoss.Missed).To(BeNil(), "%s: a state of xfs's log that posix does not allow", e.Writer)
			for _, u := range e.PowerLoss.Updates {
				k := u.Kernel
				Expect(k).NotTo(BeNil(), "%s %s: no kernel check", e.Writer, u.Update)
				Expect(strings.HasPrefix(k.Device, "xfs over dm-log-writes")).To(BeTrue(), k.Device)
				Expect(k.Model).To(Equal("posix"))
				Expect(k.Replays).To(BeNumerically(">", k.Barriers), "every barrier and the points between are replayed")
				Expect(k.States).NotTo(BeEmpty())
				for _, ks := range k.States {
					Expect(ks.InModel).To(BeTrue(), "%s: kernel state %d (log entry %d %s): %s (%s)", e.Writer, ks.ID, ks.Entry, ks.What, ks.OnDisk, ks.Pages)
					if e.Writer == "rename" {
						Expect(ks.Name).To(BeElementOf("whole A", "whole B"), "rename: kernel state %d (log entry %d)", ks.ID, ks.Entry)
					}
				}
			}
		}
	})
})
