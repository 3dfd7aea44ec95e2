package main_test

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/internal/proctest"
	"github.com/mapchaos/mapchaos/reports"
)

// fsUnderTest are the file systems the --fs specs run on:
// $MAPCHAOS_TEST_FS (comma-separated; make test-fs gives all five), or xfs.
func fsUnderTest() []string {
	if v := os.Getenv("MAPCHAOS_TEST_FS"); v != "" {
		return strings.Split(v, ",")
	}
	return []string{"xfs"}
}

// kernelFS is the kernel's name of the file system --fs name mounts.
func kernelFS(name string) string { return name }

// mapchaosIn runs mapchaos in dir with its mount state in state.
func mapchaosIn(dir, state string, args ...string) *gexec.Session {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MAPCHAOS_MOUNTS="+state)
	s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	return s
}

// leftovers lists mounts at or under any of dirs (/proc/mounts) and the
// loop devices whose backing file is under any of them (losetup -a).
func leftovers(dirs ...string) []string {
	var out []string
	mounts, err := os.ReadFile("/proc/mounts")
	Expect(err).NotTo(HaveOccurred())
	loops, err := exec.Command("losetup", "-a").Output()
	Expect(err).NotTo(HaveOccurred())
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 1 && under(f[1], dirs) {
			out = append(out, "mounted: "+line)
		}
	}
	for _, line := range strings.Split(string(loops), "\n") {
		for _, d := range dirs {
			if strings.Contains(line, "("+d+"/") {
				out = append(out, "loop device: "+line)
			}
		}
	}
	return out
}

func under(p string, dirs []string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// long is a matrix that runs long enough to be interrupted.
const long = `
fixture: {size: 256KiB, shape: shrink}
race: {updates: 400, running_readers: 2, starting_readers: 1, reload: 20ms, gap: 20ms, seed: 5}
writers: [rename, cp]
readers: [mmap]
`

var _ = Describe("mapchaos --fs: the run on a file system mounted for it", Label("fs", "root"), func() {
	var dir, state string
	BeforeEach(func() {
		if os.Geteuid() != 0 {
			Skip("--fs mounts file systems, which needs root: run the fs specs as root (make test-fs)")
		}
		dir, state = GinkgoT().TempDir(), GinkgoT().TempDir()
		DeferCleanup(func() {
			Expect(leftovers(dir, state)).To(BeEmpty(), "a mount or loop device outlived the run")
			Expect(proctest.Mentioning(dir)).To(BeEmpty(), "a process outlived the run")
		})
	})

	for _, name := range fsUnderTest() {
		It("races the matrix on "+name+", names it in the report and the repro, and keeps the run directories", func() {
			writeConfig(dir, small)
			s := mapchaosIn(dir, state, "matrix", "--fs", name, "--out", "out")
			Eventually(s).Should(gexec.Exit(0))
			Expect(s.Out).To(gbytes.Say(`--fs ` + name + `: `))
			Expect(s.Out).To(gbytes.Say(`linux/\w+, ` + kernelFS(name) + `, kernel`))
			rep, err := reports.Read(filepath.Join(dir, "out", "report.json"))
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.Run.FS).To(Equal(kernelFS(name)))
			Expect(rep.Results).To(HaveLen(2))
			Expect(rep.Results[0].Evidence.Repro).To(ContainSubstring("--fs " + name))
			Expect(filepath.Join(dir, "out", "runs", "cp_x_mmap", "timeline.log")).To(BeARegularFile())
		})

		It("steps the matrix on "+name+" to the same verdicts and steps twice", func() {
			writeConfig(dir, small)
			var runs [2][]string
			for i := range runs {
				s := mapchaosIn(dir, state, "matrix", "--fs", name, "--mode", "step", "--out", "out")
				Eventually(s).Should(gexec.Exit(0))
				rep, err := reports.Read(filepath.Join(dir, "out", "report.json"))
				Expect(err).NotTo(HaveOccurred())
				Expect(rep.Run.FS).To(Equal(kernelFS(name)))
				for _, e := range rep.Results {
					line := e.Writer + " x " + e.Reader + ": " + e.Verdict.String()
					if e.Evidence != nil {
						line += " at " + e.Evidence.WriterStep
					}
					runs[i] = append(runs[i], line)
				}
			}
			Expect(runs[1]).To(Equal(runs[0]))
		})
	}

	It("on overlay, the first update copies the target up: running readers keep the image's A whole; the next update hits them", func() {
		writeConfig(dir, small)
		s := mapchaosIn(dir, state, "matrix", "--fs", "overlay", "--mode", "step", "--writers", "cp", "--out", "out")
		Eventually(s).Should(gexec.Exit(0))
		Expect(s.Out).To(gbytes.Say(`cp A->B: `))
		Expect(s.Out).To(gbytes.Say(`#1 openat\("db.mmdb", O_WRONLY\|O_CREAT\|O_TRUNC, 0644\) = \d+ -> running: whole A \(intact\); starting: empty file`))
		Expect(s.Out).To(gbytes.Say(`running: whole A \(intact\); starting: whole B\n`))
		Expect(s.Out).To(gbytes.Say(`cp B->A: `))
		Expect(s.Out).To(gbytes.Say(`#1 openat\("db.mmdb", O_WRONLY\|O_CREAT\|O_TRUNC, 0644\) = \d+ -> running: SIGBUS at offset 0`))
		rep, err := reports.Read(filepath.Join(dir, "out", "report.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Run.FS).To(Equal("overlay"))
		Expect(rep.Run.Warnings).To(ContainElement(ContainSubstring("lower layer")))
	})

	It("checks an updater on xfs", func() {
		s := mapchaosIn(dir, state, "check", "--fs", "xfs", "--writer-cmd", "cp {new} {target}", "--readers", "mmap",
			"--updates", "4", "--size", "256KiB", "--out", "out")
		Eventually(s).Should(gexec.Exit(1))
		Expect(s.Out).To(gbytes.Say(`linux/\w+, xfs, kernel`))
		rep, err := reports.Read(filepath.Join(dir, "out", "report.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Run.FS).To(Equal("xfs"))
		Expect(rep.Results[0].Evidence.Repro).To(ContainSubstring("--fs xfs"))
	})

	It("takes everything down on Ctrl-C", func() {
		writeConfig(dir, long)
		s := mapchaosIn(dir, state, "matrix", "--fs", "xfs", "--out", "out")
		Eventually(s.Out).Should(gbytes.Say(`--fs xfs: `))
		Expect(leftovers(dir)).NotTo(BeEmpty(), "the file system is mounted while the run lasts")
		s.Signal(syscall.SIGINT)
		Eventually(s).Should(gexec.Exit(3))
		Expect(s.Err).To(gbytes.Say("interrupted"))
	})

	It("after the run was killed (SIGKILL), the next run takes down what it left, and nothing else", func() {
		writeConfig(dir, long)
		other := filepath.Join(dir, "other")
		Expect(os.MkdirAll(other, 0o755)).To(Succeed())
		Expect(syscall.Mount("tmpfs", other, "tmpfs", 0, "size=1m")).To(Succeed())
		s := mapchaosIn(dir, state, "matrix", "--fs", "xfs", "--out", "out")
		Eventually(s.Out).Should(gbytes.Say(`\[ 1/2`))
		s.Signal(syscall.SIGKILL)
		Eventually(s).Should(gexec.Exit())
		Eventually(func() []string { return proctest.Mentioning(dir) }).Should(BeEmpty(), "readers die with their parent")
		Expect(leftovers(dir, state)).To(ContainElements(ContainSubstring("mounted: "), ContainSubstring("loop device: ")), "a killed run cannot clean up")

		writeConfig(dir, small)
		s = mapchaosIn(dir, state, "matrix", "--fs", "xfs", "--out", "again")
		Eventually(s).Should(gexec.Exit(0))
		Expect(s.Out).To(gbytes.Say(`--fs: took down what a killed earlier run left: unmounted ` + regexpQuote(filepath.Join(dir, "out", "runs")) + `, detached /dev/loop\d+`))
		Expect(leftovers(dir, state)).To(ConsistOf(HavePrefix("mounted: tmpfs "+other)), "only what mapchaos made is taken down")
		Expect(syscall.Unmount(other, 0)).To(Succeed())
	})

	It("refuses a file system it does not know, with or without a guest, before touching anything", func() {
		for _, args := range [][]string{{"--fs", "zfs"}, {"--fs", "zfs", "--arch", "amd64"}} {
			s := mapchaosIn(dir, state, append([]string{"matrix", "--out", "out"}, args...)...)
			Eventually(s).Should(gexec.Exit(2))
			Expect(s.Err).To(gbytes.Say(`--fs: file system "zfs": want one of ext4, xfs, btrfs, tmpfs, overlay`))
			Expect(filepath.Join(dir, "out")).NotTo(BeAnExistingFile())
		}
	})

	It("without root, exits 2 and says why, before touching anything", func() {
		nobody, err := os.MkdirTemp("", "mapchaos-fs-nobody-")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(os.RemoveAll, nobody)
		Expect(os.Chmod(nobody, 0o777)).To(Succeed())
		self := filepath.Join(nobody, "mapchaos")
		copyExecutable(bin, self)
		for _, args := range [][]string{
			{"matrix", "--fs", "xfs", "--out", "out"},
			{"check", "--fs", "tmpfs", "--writer-cmd", "cp {new} {target}", "--out", "out"},
		} {
			cmd := exec.Command(self, args...)
			cmd.Dir = nobody
			cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + nobody, "MAPCHAOS_MOUNTS=" + state}
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
			Expect(err).NotTo(HaveOccurred())
			Eventually(s).Should(gexec.Exit(2))
			Expect(s.Err).To(gbytes.Say(`mounts a file system, which needs root: run as root \(or without --fs\)`))
			Expect(filepath.Join(nobody, "out")).NotTo(BeAnExistingFile())
		}
	})
})

func copyExecutable(src, dst string) {
	in, err := os.Open(src)
	Expect(err).NotTo(HaveOccurred())
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	Expect(err).NotTo(HaveOccurred())
	_, err = io.Copy(out, in)
	Expect(err).NotTo(HaveOccurred())
	Expect(out.Close()).To(Succeed())
}
