package main_test

import (
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

	"github.com/mapchaos/mapchaos/internal/needs"
	"github.com/mapchaos/mapchaos/internal/proctest"
	"github.com/mapchaos/mapchaos/reports"
)

// nfsUnderTest are the NFS --fs names the nfs specs run:
// $MAPCHAOS_TEST_NFS (comma-separated; make test-nfs gives nfs4 and nfs3,
// cold and server-side), or nfs4.
func nfsUnderTest() []string {
	if v := os.Getenv("MAPCHAOS_TEST_NFS"); v != "" {
		return strings.Split(v, ",")
	}
	return []string{"nfs4"}
}

// nfsSmall is the nfs specs' matrix: every updater of the default
// matrix, the mapped reader, a fixture small enough to step in minutes
// under emulation.
const nfsSmall = `
fixture: {size: 1MiB, shape: shrink}
race: {updates: 6, running_readers: 2, starting_readers: 1, reload: 20ms, gap: 20ms, seed: 5}
writers: [cp, rename, symlink-swap, inplace]
readers: [mmap]
`

var _ = Describe("mapchaos matrix --fs nfs4: an updater and readers on two NFS clients, in a guest", Serial, Label("nfs", "qemu"), func() {
	BeforeEach(func() {
		needs.Program("qemu-system-x86", "qemu-system-x86_64")
	})

	for _, name := range nfsUnderTest() {
		It("runs the matrix on "+name+" with two clients the server sees and cold pages, and leaves nothing behind", func(_ SpecContext) {
			dir := GinkgoT().TempDir()
			DeferCleanup(func() {
				Expect(proctest.Mentioning(dir)).To(BeEmpty(), "a process (qemu) outlived the run")
			})
			writeConfig(dir, nfsSmall)
			s := mapchaos(dir, "matrix", "--arch", "amd64", "--fs", name, "--mode", "step", "--out", "out")
			// 0: every expectation held; 1: some did not (NFS is not a
			// local disk): both are runs that worked. 2 and 3 are failures.
			Eventually(s, 15*time.Minute).Should(gexec.Exit())
			Expect(s.ExitCode()).To(BeElementOf(0, 1), "the NFS run failed")
			Expect(s.Out).To(gbytes.Say(`--fs ` + name + `: nfsd exports .*; the grace period ended at once`))
			rep, err := reports.Read(filepath.Join(dir, "out", name, "report.json"))
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.Run.FS).To(HavePrefix("nfs"))
			Expect(rep.Results).To(HaveLen(4))
			var note string
			for _, w := range rep.Run.Warnings {
				if strings.HasPrefix(w, "--fs "+name+": ") {
					note = w
				}
			}
			Expect(note).To(ContainSubstring("the readers mapped the file through NFS client R"))
			if !strings.HasPrefix(name, "nfs3") {
				Expect(note).To(ContainSubstring("the server saw the clients Linux NFSv4.1 mapchaos-client-w and Linux NFSv4.1 mapchaos-client-r"))
			}
			if !strings.HasSuffix(name, "-warm") {
				Expect(note).To(MatchRegexp(`cold pages: the run's cached pages were evicted [1-9]\d* times`))
			}
		})
	}

	It("on Ctrl-C while the updater steps on NFS, stops the guest and leaves nothing behind on this machine", func(_ SpecContext) {
		dir := GinkgoT().TempDir()
		GinkgoT().Setenv("TMPDIR", dir) // the guest's work directory, and so qemu's command line, is under dir
		writeConfig(dir, strings.Replace(nfsSmall, "updates: 6", "updates: 500", 1))
		// In a process group of its own, which gets the SIGINT, qemu
		// included, as from a terminal.
		cmd := exec.Command(bin, "matrix", "--arch", "amd64", "--fs", "nfs4", "--mode", "step", "--writers", "rename", "--out", "out")
		cmd.Dir, cmd.SysProcAttr = dir, &syscall.SysProcAttr{Setpgid: true}
		s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(s.Out, 5*time.Minute).Should(gbytes.Say(`--fs nfs4: nfsd exports`))
		Expect(proctest.Mentioning(dir)).NotTo(BeEmpty(), "qemu runs")
		Expect(syscall.Kill(-s.Command.Process.Pid, syscall.SIGINT)).To(Succeed())
		Eventually(s, time.Minute).Should(gexec.Exit(3))
		Expect(s.Err).To(gbytes.Say("interrupted"))
		Expect(proctest.Mentioning(dir)).To(BeEmpty(), "qemu or a helper outlived mapchaos")
		work, _ := filepath.Glob(filepath.Join(dir, "mapchaos-*"))
		Expect(work).To(BeEmpty(), "the guest's work directory was not removed")
		Expect(leftovers(dir)).To(BeEmpty(), "a mount or a loop device was left on this machine")
	}, SpecTimeout(8*time.Minute))
})
