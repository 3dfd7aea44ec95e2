package main_test

import (
	"encoding/xml"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/internal/proctest"
	"github.com/mapchaos/mapchaos/reports"
)

// The interrupt specs (Label "stress"; `make stress` repeats them and
// prints what they measured). Each trial starts a real run, interrupts it,
// and checks that it exits 3 (or was killed, for SIGKILL), leaves no
// process and no temporary entry behind, and that each report file is
// whole or absent. With $MAPCHAOS_STRESS_LOG set each trial appends one
// line to that file: MODE SIGNAL EXIT MILLISECONDS LEFTOVERS.

// stressRace races long enough that any moment in the first seconds lands
// in the race; stressStep steps every writer, probing at every write.
const stressRace = `
fixture: {size: 256KiB, shape: shrink}
race: {updates: 5000, running_readers: 2, starting_readers: 1, reload: 20ms, gap: 20ms, seed: 5}
writers: [cp, rename, inplace]
readers: [mmap, bytes]
`

const stressStep = `
fixture: {size: 16MiB, shape: shrink}
race: {updates: 6, running_readers: 2, starting_readers: 1, reload: 20ms, gap: 20ms, seed: 5}
writers: [cp, rename, rename-nofsync, inplace, symlink-swap, symlink-recreate, remove-create]
readers: [mmap, bytes, mmap-recover]
`

// interruption is how a trial interrupts the run.
type interruption string

const (
	sigint  interruption = "SIGINT"
	sigterm interruption = "SIGTERM"
	ctrlC   interruption = "Ctrl-C" // SIGINT to the whole process group, as a terminal sends it
	sigkill interruption = "SIGKILL"
)

// send interrupts the run of s (started in a process group of its own).
func (i interruption) send(s *gexec.Session) {
	pid := s.Command.Process.Pid
	Expect(s.ExitCode()).To(Equal(-1), "the run ended before it was interrupted:\n%s", s.Err.Contents())
	switch i {
	case sigint:
		Expect(syscall.Kill(pid, syscall.SIGINT)).To(Succeed())
	case sigterm:
		Expect(syscall.Kill(pid, syscall.SIGTERM)).To(Succeed())
	case ctrlC:
		Expect(syscall.Kill(-pid, syscall.SIGINT)).To(Succeed())
	case sigkill:
		Expect(syscall.Kill(pid, syscall.SIGKILL)).To(Succeed())
	}
}

// trial is one interrupted run in dir.
type trial struct {
	dir, out, tmp string
	mode          string
	how           interruption
	session       *gexec.Session
}

// start runs `bin matrix` in a fresh directory with TMPDIR of its own, in
// a process group of its own; env is added to its environment.
func start(bin, mode, config string, env ...string) *trial {
	t := &trial{dir: GinkgoT().TempDir(), mode: mode}
	t.out, t.tmp = filepath.Join(t.dir, "out"), filepath.Join(t.dir, "tmp")
	Expect(os.Mkdir(t.tmp, 0o755)).To(Succeed())
	args := []string{"matrix", "--mode", mode, "--config", writeConfig(t.dir, config), "--out", t.out}
	if mode == "step" {
		args = append(args, "--probe-every-write")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = t.dir
	cmd.Env = append(append(os.Environ(), "TMPDIR="+t.tmp), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var err error
	t.session, err = gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	return t
}

// children lists the processes the run started (mapchaos's own command
// line names the output directory too: a signal before main installed its
// handler would kill it with the default action, before it started
// anything, which is not what these trials are about).
func (t *trial) children() []string {
	self := fmt.Sprintf("%d ", t.session.Command.Process.Pid)
	var out []string
	for _, p := range proctest.Mentioning(t.out) {
		if !strings.HasPrefix(p, self) {
			out = append(out, p)
		}
	}
	return out
}

// interrupt sends how, waits for the run to end, checks what must hold,
// and logs the trial.
func (t *trial) interrupt(how interruption) {
	how.send(t.session)
	t.ended(how, time.Now())
}

// ended waits for the run interrupted by how at time at to end, checks
// what must hold, and logs the trial.
func (t *trial) ended(how interruption, at time.Time) {
	t.how = how
	Eventually(t.session, time.Minute, 2*time.Millisecond).Should(gexec.Exit())
	took := time.Since(at)
	procs := proctest.Mentioning(t.dir)
	if how == sigkill && len(procs) > 0 { // the children learn of it by their parent-death signal
		time.Sleep(2 * time.Second)
		procs = proctest.Mentioning(t.dir)
	}
	temps := t.leftovers()
	t.log(took, len(procs)+len(temps))
	if how == sigkill {
		Expect(t.session.ExitCode()).To(Equal(128+int(syscall.SIGKILL)), "killed by SIGKILL")
	} else {
		Expect(t.session.ExitCode()).To(Equal(3), "an interrupted run exits 3")
		Expect(t.session.Err.Contents()).To(ContainSubstring("interrupted"))
	}
	Expect(procs).To(BeEmpty(), "processes of the run outlived it")
	Expect(temps).To(BeEmpty(), "temporary entries left behind")
	t.reportsWholeOrAbsent()
}

// leftovers lists what the run left in its TMPDIR, and the temporary
// files of reports half written in its output directory. After SIGKILL a
// half-written report may stay (nothing can remove it): the next run in
// the directory does (the report-writing spec checks that).
func (t *trial) leftovers() []string {
	var out []string
	ents, _ := os.ReadDir(t.tmp)
	for _, e := range ents {
		out = append(out, filepath.Join("$TMPDIR", e.Name()))
	}
	if t.how != sigkill {
		half, _ := filepath.Glob(filepath.Join(t.out, ".*.tmp-*"))
		out = append(out, half...)
	}
	return out
}

// reportsWholeOrAbsent checks each report file of the output directory:
// absent, or whole.
func (t *trial) reportsWholeOrAbsent() {
	if _, err := os.Stat(filepath.Join(t.out, reports.JSONFile)); err == nil {
		_, err := reports.Read(filepath.Join(t.out, reports.JSONFile))
		Expect(err).NotTo(HaveOccurred(), "a torn report.json")
	}
	if b, err := os.ReadFile(filepath.Join(t.out, reports.JUnitFile)); err == nil {
		Expect(xml.Unmarshal(b, new(struct{}))).To(Succeed(), "a torn junit.xml")
	}
	if b, err := os.ReadFile(filepath.Join(t.out, reports.HTMLFile)); err == nil {
		Expect(strings.TrimSpace(string(b))).To(HaveSuffix("</html>"), "a torn report.html")
	}
	if b, err := os.ReadFile(filepath.Join(t.out, reports.MarkdownFile)); err == nil {
		rep, err := reports.Read(filepath.Join(t.out, reports.JSONFile))
		Expect(err).NotTo(HaveOccurred(), "report.md without report.json")
		Expect(string(b)).To(Equal(reports.Markdown(rep)), "a torn report.md")
	}
}

// log appends the trial to $MAPCHAOS_STRESS_LOG, if set.
func (t *trial) log(took time.Duration, leftovers int) {
	p := os.Getenv("MAPCHAOS_STRESS_LOG")
	if p == "" {
		return
	}
	f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	_, err = fmt.Fprintf(f, "%s %s %d %d %d\n", t.mode, strings.ReplaceAll(string(t.how), " ", "_"), t.session.ExitCode(), took.Milliseconds(), leftovers)
	Expect(err).NotTo(HaveOccurred())
}

var _ = Describe("interrupted at a random moment: exit 3 promptly, no process and no temporary entry left", Label("stress"), Serial, func() {
	for _, mode := range []string{"race", "step"} {
		config := map[string]string{"race": stressRace, "step": stressStep}[mode]
		for _, how := range []interruption{sigint, sigterm, ctrlC, sigkill} {
			for n := 1; n <= 2; n++ {
				It(fmt.Sprintf("%s mode, %s, trial %d", mode, how, n), func() {
					t := start(bin, mode, config)
					Eventually(t.children).ShouldNot(BeEmpty(), "the run never started its processes")
					moment := time.Duration(rand.Int64N(int64(1500 * time.Millisecond)))
					GinkgoWriter.Printf("interrupting %s after %s\n", how, moment)
					time.Sleep(moment)
					Expect(t.session.ExitCode()).To(Equal(-1), "the run ended before it was interrupted: make it longer")
					t.interrupt(how)
				})
			}
		}
	}
})

var _ = Describe("interrupted while writing the reports: each report whole or absent", Label("stress"), Serial, func() {
	for _, how := range []interruption{sigint, sigterm, ctrlC, sigkill} {
		It(fmt.Sprintf("%s half way through report.md", how), func() {
			if holdBin == "" {
				Skip("needs mapchaos linked with the write hold (go build -ldflags): no Go toolchain here and no $MAPCHAOS_HOLD_BIN (mapchaos-vm suites gives one)")
			}
			hold := filepath.Join(GinkgoT().TempDir(), "hold")
			Expect(os.Mkdir(hold, 0o755)).To(Succeed())
			t := start(holdBin, "race", strings.Replace(small, "updates: 6", "updates: 2", 1), holdEnv+"="+hold+":"+reports.MarkdownFile)
			t.mode = "reports" // in the log: interrupted while writing the reports
			Eventually(filepath.Join(hold, "held")).Should(BeAnExistingFile(), "the run never reached report.md")
			half, err := filepath.Glob(filepath.Join(t.out, ".report.md.tmp-*"))
			Expect(err).NotTo(HaveOccurred())
			Expect(half).To(HaveLen(1), "report.md is half written in its temporary file")
			how.send(t.session)
			at := time.Now()
			// The signal lands while report.md is half written; the run takes it
			// in (the runtime's signal goroutine cancels its context) while it is
			// still held there, as it would during a slow write.
			time.Sleep(250 * time.Millisecond)
			Expect(os.WriteFile(filepath.Join(hold, "release"), nil, 0o644)).To(Succeed())
			t.ended(how, at)
			if how != sigkill {
				for _, f := range []string{reports.JSONFile, reports.MarkdownFile, reports.HTMLFile, reports.JUnitFile} {
					Expect(filepath.Join(t.out, f)).To(BeAnExistingFile(), "the reports were written through")
				}
				return
			}
			By("a killed run leaves report.md absent and its half; the next run in the directory removes the half")
			Expect(filepath.Join(t.out, reports.MarkdownFile)).NotTo(BeAnExistingFile())
			Expect(half[0]).To(BeAnExistingFile())
			again := mapchaos(t.dir, "matrix", "--config", filepath.Join(t.dir, "ginkgo.yml"), "--writers", "rename", "--out", t.out)
			Eventually(again).Should(gexec.Exit(0))
			Expect(half[0]).NotTo(BeAnExistingFile())
			left, _ := filepath.Glob(filepath.Join(t.out, ".*.tmp-*"))
			Expect(left).To(BeEmpty())
			t.how = sigint // every report is whole now
			t.reportsWholeOrAbsent()
		})
	}
})
