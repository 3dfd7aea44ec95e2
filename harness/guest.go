package harness

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/vm"
)

// Guest runs inside a real Linux kernel under full-system emulation
// (qemu-system-aarch64 for arm64, qemu-system-x86_64 with TCG for amd64):
// it builds mapchaos for the guest's architecture from source, boots
// Debian's cloud kernel of that architecture (fetched once, cached) with
// the guest init, runs the same plan there, once per file system, and
// returns the reports, marked with the guest's architecture and emulation
// qemu-system. The guest runs Debian's own userland (vm.RootPackages), so
// a check's updater (WriterCmd) and foreign reader (ReaderCmd) run there
// as they are: `mapchaos check` runs in the guest, in GuestWork, where
// Stage's files and folders are copied first.
type Guest struct {
	// Arch is the guest's architecture (zero: arm64).
	Arch vm.Arch
	// Stage lists files and folders of this machine copied into the
	// guest's working directory (check's --stage).
	Stage []string
	// FS names the one file system the guest runs on, made inside the
	// guest as --fs makes it on the host (mounts.Kinds, and kinds only a
	// guest kernel has, NFSKinds); "": its own ext4 disk, then a tmpfs.
	FS string
	// Modules are kernel modules the guest loads besides those of FS
	// (--kernel-check: dm_log_writes).
	Modules []string
	// Why, when set, says why the run is in a guest (told first).
	Why string
}

// Arm64 is the arm64 guest.
func Arm64(stage ...string) Guest { return Guest{Arch: vm.Arm64, Stage: stage} }

// GuestWork is the working directory of a check in the guest: staged
// files are there, and the updater and the reader run there.
const GuestWork = vm.GuestDisk + "/work"

// arch is g.Arch, arm64 when unset.
func (g Guest) arch() vm.Arch {
	if g.Arch.Name == "" {
		return vm.Arm64
	}
	return g.Arch
}

// Name says where the run happens.
func (g Guest) Name() string {
	a := g.arch()
	return fmt.Sprintf("an %s guest (%s)", a.Name, a.Qemu)
}

// flag is the flag that asked for this environment, for messages.
func (g Guest) flag() string {
	if p := g.pageSize(); p != "" {
		return "--arch " + g.arch().Name + " --page-size " + p
	}
	return "--arch " + g.arch().Name
}

// pageSize is the guest's --page-size, "" for 4 KiB pages.
func (g Guest) pageSize() string {
	if p := g.arch().Pages(); p != 4096 {
		return vm.PageSizeName(p)
	}
	return ""
}

// guestRun is one run of the plan in the guest: on file system fs, its
// reports written to dir (in the guest).
type guestRun struct{ fs, dir string }

// runs are the guest's runs, in order.
func (g Guest) runs() []guestRun {
	if g.FS != "" {
		return []guestRun{{g.FS, vm.GuestDisk + "/out-" + g.FS}}
	}
	return []guestRun{{"ext4", vm.GuestDisk + "/ext4"}, {"tmpfs", vm.GuestTmpfs + "/tmpfs"}}
}

// guestModules are the kernel modules a file system made in the guest
// needs beyond the disk's (their dependencies are found by vm).
var guestModules = map[string][]string{
	"xfs": {"loop", "xfs"}, "btrfs": {"loop", "btrfs"}, "ext4": {"loop"}, "overlay": {"overlay"},
}

// machine describes the emulated machine, with its page size, in reports
// and progress lines.
func (g Guest) machine() string { return g.arch().Describe(2, guestMemMiB) }

// parallel says whether the guest runs its file systems at the same time:
// in step mode, where no verdict depends on timing, so that the runs use
// both vCPUs; races run one after the other.
func (g Guest) parallel(r *Run) bool {
	_, race := r.Mode.(Race)
	return !race && len(g.runs()) > 1
}

// guestMemMiB is the guest's memory.
const guestMemMiB = 1536

// Execute boots the guest, runs the plan there and unpacks its reports
// into Out/<fs>.
func (g Guest) Execute(ctx context.Context, r *Run) ([]Placed, error) {
	start := time.Now()
	if g.Why != "" {
		r.Events.Note(g.Why)
	}
	if err := g.refuse(r); err != nil {
		return nil, err
	}
	timeout, err := guestTimeout(len(r.Plan.Combos))
	if err != nil {
		return nil, err
	}
	cwd, _ := os.Getwd()
	kcache := vm.DefaultCacheDir()
	a := g.arch()
	r.Events.Note(fmt.Sprintf("%s: %s, Go toolchain, source, kernel (cache %s)", a.Name, a.Qemu, kcache))
	host, err := vm.Setup(ctx, cwd, kcache, vm.Want{Arch: a, Root: true}, vm.Apt{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", g.flag(), err)
	}
	r.Events.Note(a.Name + ": " + kernelNote(host))
	work, err := os.MkdirTemp("", "mapchaos-"+a.Name+"-")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", g.flag(), err)
	}
	defer os.RemoveAll(work)
	out, t, err := g.boot(ctx, r, host, work, timeout)
	if err != nil {
		return nil, err
	}
	var placed []Placed
	for _, run := range g.runs() {
		rep, err := g.result(out.Transcript, run.fs, filepath.Join(r.Out, run.fs), r)
		if err != nil {
			return nil, err
		}
		placed = append(placed, Placed{Label: run.fs, Dir: filepath.Join(r.Out, run.fs), Report: rep})
	}
	r.Events.Note(fmt.Sprintf("%s timings: kernel %s, build %.1fs, boot %.1fs, boot-to-result %.1fs (%s), total %.1fs", a.Name,
		kernelTiming(host), t.build.Seconds(), out.Boot.Seconds(), t.result.Seconds(), stepTimes(out.Transcript), time.Since(start).Seconds()))
	return placed, nil
}

// refuse rejects what the guest cannot run, before anything is built.
func (g Guest) refuse(r *Run) error {
	for _, c := range r.Plan.Combos {
		if len(c.Reader.Command) > 0 && r.WriterCmd == "" {
			return Badf("%s: reader %q is a foreign program; the guest runs foreign readers in a check (mapchaos check %s --reader-cmd ...)", g.flag(), c.Reader.Name, g.flag())
		}
	}
	return checkStage(g.Stage)
}

// timings are how long building and booting took.
type timings struct{ build, result time.Duration }

// boot builds what the guest needs into work and boots it.
func (g Guest) boot(ctx context.Context, r *Run, host vm.Host, work string, timeout time.Duration) (vm.Outcome, timings, error) {
	buildStart := time.Now()
	a := g.arch()
	r.Events.Note(fmt.Sprintf("%s: building mapchaos and the guest init for linux/%s (CGO_ENABLED=0) from %s", a.Name, a.Name, host.Source.Root))
	args, err := stageGuest(ctx, host.Source, r.Pair, r.Plan.Config.Path, work)
	if err != nil {
		return vm.Outcome{}, timings{}, fmt.Errorf("%s: %w", g.flag(), err)
	}
	for _, p := range g.Stage {
		if err := copyInto(p, filepath.Join(work, "disk", "work")); err != nil {
			return vm.Outcome{}, timings{}, fmt.Errorf("%s: --stage %s: %w", g.flag(), p, err)
		}
	}
	t := timings{build: time.Since(buildStart)}
	var fss []string
	for _, run := range g.runs() {
		fss = append(fss, run.fs)
	}
	parallel := g.parallel(r)
	join := ", then on "
	if parallel {
		join = " and, at the same time, on "
	}
	r.Events.Note(fmt.Sprintf("%s: booting %s, %s; running %d combinations on %s (at most %s)",
		a.Name, host.Kernel.Release, g.machine(), len(r.Plan.Combos), strings.Join(fss, join), timeout.Round(time.Second)))
	bootStart := time.Now()
	guest := vm.Guest{Kernel: host.Kernel, Root: host.Root.Image(), Init: filepath.Join(work, "init"), DiskDir: filepath.Join(work, "disk"), DiskFreeMiB: 768, Work: work,
		Plan: vm.Plan{Steps: g.steps(r, args, stepTimeout(timeout)), Parallel: parallel, StopOnTimeout: true}, Modules: append(slices.Clone(modulesFor(g.FS)), g.Modules...),
		Machine: vm.Machine{Qemu: host.Qemu, MemMiB: guestMemMiB, CPUs: 2, Timeout: timeout,
			Pass: func(line string) { r.Events.Note(a.Name + " | " + line) }}}
	out, err := guest.Boot(ctx)
	switch {
	case errors.Is(err, context.Canceled):
		return out, t, fmt.Errorf("%s: %w", g.flag(), context.Canceled) // Ctrl-C: no console tail
	case err != nil:
		return out, t, fmt.Errorf("%s: %w", g.flag(), err)
	}
	t.result = time.Since(bootStart)
	return out, t, nil
}

// stageGuest builds the guest init (work/init) and lays out the guest's
// disk (work/disk): bin/mapchaos, the fixture and the config. It returns
// the matrix flags that find the fixture and the config there.
func stageGuest(ctx context.Context, src vm.Source, pair fixtures.Pair, cfgPath, work string) ([]string, error) {
	disk := filepath.Join(work, "disk")
	args, err := stageFixture(pair, disk)
	if err != nil {
		return nil, fmt.Errorf("stage the fixture: %w", err)
	}
	if cfgPath != "" {
		if err := vm.StageCopy(cfgPath, filepath.Join(disk, "ginkgo.yml")); err != nil {
			return nil, err
		}
		args = append(args, "--config", vm.GuestDisk+"/ginkgo.yml")
	}
	if err := src.Build(ctx, vm.GuestInitPackage, filepath.Join(work, "init")); err != nil {
		return nil, err
	}
	if err := src.Build(ctx, "./cmd/mapchaos", filepath.Join(disk, "bin", "mapchaos")); err != nil {
		return nil, err
	}
	return args, nil
}

// steps are the guest's runs of the plan, one per file system.
func (g Guest) steps(r *Run, stageArgs []string, timeout time.Duration) []vm.Step {
	if r.WriterCmd != "" {
		return g.checkSteps(r, stageArgs, timeout)
	}
	var ws, rs []string
	for _, w := range r.Plan.Writers() {
		ws = append(ws, w.Name)
	}
	for _, c := range r.Plan.Of(ws[0]) {
		rs = append(rs, c.Reader.Name)
	}
	var steps []vm.Step
	for _, run := range g.runs() {
		argv := append([]string{vm.GuestDisk + "/bin/mapchaos", "matrix"}, stageArgs...)
		argv = append(argv, g.fsArgs()...)
		argv = append(argv, "--out", run.dir, "--seed", fmt.Sprint(r.Plan.Config.Race.Seed), "--mode", r.Mode.Name(),
			"--writers", strings.Join(ws, ","), "--readers", strings.Join(rs, ","))
		if r.Repro.Updates > 0 {
			argv = append(argv, "--updates", fmt.Sprint(r.Repro.Updates))
		}
		if pl, ok := r.Mode.(PowerLoss); ok && pl.Model != "" {
			argv = append(argv, "--model", pl.Model)
		}
		argv = append(argv, kernelArgs(r)...)
		steps = append(steps, vm.Step{Name: run.fs, Argv: argv, Dir: run.dir, Collect: []string{run.dir},
			Env:     []string{"HOME=/root", "TMPDIR=/tmp", "PATH=" + vm.GuestDisk + "/bin:" + vm.GuestPath},
			Timeout: vm.Duration(timeout)})
	}
	return steps
}

// result unpacks what the guest's run on fs sent back into dir and marks
// the report as a run of the guest's architecture under qemu-system.
func (g Guest) result(t vm.Transcript, fs, dir string, r *Run) (reports.Report, error) {
	flag := g.flag()
	s := t.Step(fs)
	switch {
	case s == nil || !s.Ended:
		return reports.Report{}, fmt.Errorf("%s: the %s run never finished", flag, fs)
	case s.Code == 2:
		return reports.Report{}, Badf("%s: the guest refused the run on %s (exit 2; its message is above)", flag, fs)
	case s.Code != 0 && s.Code != 1:
		return reports.Report{}, fmt.Errorf("%s: the harness failed in the guest on %s: exit %d %s(its output is above)", flag, fs, s.Code, orEmpty(s.Reason))
	case s.Blob == nil:
		return reports.Report{}, fmt.Errorf("%s: the %s run sent back no report", flag, fs)
	}
	if err := os.RemoveAll(dir); err != nil {
		return reports.Report{}, fmt.Errorf("clear %s: %w", dir, err)
	}
	if err := vm.Unpack(s.Blob, dir); err != nil {
		return reports.Report{}, fmt.Errorf("%s: %s: %w", flag, fs, err)
	}
	rep, err := reports.Read(filepath.Join(dir, reports.JSONFile))
	if err != nil {
		return rep, fmt.Errorf("%s: the %s run's report: %w", flag, fs, err)
	}
	if rep.Run.PageSize != g.arch().Pages() {
		return rep, fmt.Errorf("%s: the %s run's kernel had %d-byte pages, not the %d asked for", flag, fs, rep.Run.PageSize, g.arch().Pages())
	}
	g.mark(&rep, t, r.Plan.Config.Path)
	repro := r.Repro
	repro.Arch, repro.PageSize = g.arch().Name, g.pageSize()
	for i := range rep.Results {
		if e := &rep.Results[i]; e.Evidence != nil {
			e.Evidence.Repro = repro.For(e.Writer, e.Reader)
		}
	}
	return rep, nil
}

// mark records in a guest's report what the guest cannot know: that it
// ran under full-system emulation, on which host, with which config.
func (g Guest) mark(rep *reports.Report, t vm.Transcript, cfgPath string) {
	rep.Run.Emulation = "qemu-system"
	rep.Run.Config = cfgPath
	if h, err := os.Hostname(); err == nil {
		rep.Run.Host = h
	}
	if rep.Run.Kernel == "" {
		rep.Run.Kernel = t.Info["kernel"]
	}
	rep.Run.Warnings = append(rep.Run.Warnings,
		"ran in a real "+g.arch().Name+" Linux kernel under full-system emulation ("+g.machine()+"): "+
			"faults and signals are the hardware's, but the guest runs many times slower than the host, so verdicts that timing decides may differ")
}

// stageFixture puts the pair on the guest's disk and returns the matrix
// flags that find it there.
func stageFixture(pair fixtures.Pair, disk string) ([]string, error) {
	if pair.Own() {
		dir := filepath.Join(disk, "pair")
		for _, c := range []struct{ src, name string }{{pair.A, "old.mmdb"}, {pair.B, "new.mmdb"}} {
			if err := vm.Stage(c.src, filepath.Join(dir, c.name)); err != nil {
				return nil, err
			}
		}
		g := vm.GuestDisk + "/pair/"
		return []string{"--old", g + "old.mmdb", "--new", g + "new.mmdb"}, nil
	}
	dst := filepath.Join(disk, "cache", filepath.Base(pair.Dir))
	ents, err := os.ReadDir(pair.Dir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if e.Type().IsRegular() {
			if err := vm.Stage(filepath.Join(pair.Dir, e.Name()), filepath.Join(dst, e.Name())); err != nil {
				return nil, err
			}
		}
	}
	return []string{"--cache", vm.GuestDisk + "/cache"}, nil
}

// guestTimeout bounds the whole guest run: $MAPCHAOS_VM_TIMEOUT when set,
// else 5 minutes plus 2 minutes per combination and file system.
func guestTimeout(combos int) (time.Duration, error) {
	if v := os.Getenv("MAPCHAOS_VM_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return 0, Badf("MAPCHAOS_VM_TIMEOUT=%q: want a duration such as 20m", v)
		}
		return d, nil
	}
	return 5*time.Minute + time.Duration(2*combos)*2*time.Minute, nil
}

// stepTimeout bounds a step a little inside the whole guest's bound, so
// that the guest's init, not qemu's killer, ends a hung step: it then
// reports the blocked tasks' kernel stacks and the step's goroutines.
func stepTimeout(machine time.Duration) time.Duration {
	margin := max(machine/10, 10*time.Second)
	if margin >= machine {
		return machine / 2
	}
	return machine - margin
}

func kernelNote(h vm.Host) string {
	return kernelLine(h) + "; " + RootNote(h)
}

func kernelLine(h vm.Host) string {
	if h.Fetched {
		return fmt.Sprintf("downloaded %s %s in %.1fs (cached for the next run)", h.Kernel.Package, h.Kernel.Version, h.FetchTime.Seconds())
	}
	return fmt.Sprintf("kernel %s %s (cached, not downloaded)", h.Kernel.Package, h.Kernel.Version)
}

// RootNote says where the guest's Debian userland came from.
func RootNote(h vm.Host) string {
	r := h.Root
	if r.Dir == "" {
		return "no Debian root"
	}
	how := "cached"
	if h.RootBuilt {
		how = fmt.Sprintf("downloaded and built in %.1fs", h.RootTime.Seconds())
	}
	return fmt.Sprintf("Debian root: %d packages, %d MiB unpacked (%s, %s)", len(r.Packages), r.SizeMiB, how, r.Image())
}

func kernelTiming(h vm.Host) string {
	if h.Fetched {
		return fmt.Sprintf("downloaded in %.1fs", h.FetchTime.Seconds())
	}
	return "cached"
}

func stepTimes(t vm.Transcript) string {
	var parts []string
	for _, s := range t.Steps {
		parts = append(parts, fmt.Sprintf("%s %.1fs", s.Name, s.Duration.Seconds()))
	}
	return strings.Join(parts, ", ")
}

func orEmpty(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ") "
}

// checkSteps are the guest's runs of a check, one per file system: the
// same `mapchaos check`, run in GuestWork.
func (g Guest) checkSteps(r *Run, stageArgs []string, timeout time.Duration) []vm.Step {
	var builtin []string
	for _, c := range r.Plan.Combos {
		if len(c.Reader.Command) == 0 {
			builtin = append(builtin, c.Reader.Name)
		}
	}
	p := r.Repro
	args := []string{"--writer-cmd", r.WriterCmd, "--readers", strings.Join(builtin, ",")}
	if r.ReaderCmd != "" {
		args = append(args, "--reader-cmd", r.ReaderCmd)
	}
	args = append(args, "--seed", fmt.Sprint(r.Plan.Config.Race.Seed), "--updates", fmt.Sprint(r.Plan.Config.Race.Updates))
	if p.Mode != "" {
		args = append(args, "--mode", p.Mode)
	}
	if p.Model != "" {
		args = append(args, "--model", p.Model)
	}
	if p.TargetKind != "" {
		args = append(args, "--target-kind", p.TargetKind)
	}
	args = append(args, kernelArgs(r)...)
	if p.Timeout != 0 {
		args = append(args, "--writer-timeout", p.Timeout.String())
	}
	if f := r.Plan.Config.Fixture; f.Old == "" {
		args = append(args, "--size", fmt.Sprint(f.Size), "--shape", string(f.Shape))
	}
	var steps []vm.Step
	for _, run := range g.runs() {
		argv := append([]string{vm.GuestDisk + "/bin/mapchaos", "check"}, stageArgs...)
		argv = append(argv, g.fsArgs()...)
		argv = append(append(argv, args...), "--out", run.dir)
		steps = append(steps, vm.Step{Name: run.fs, Argv: argv, Dir: GuestWork, Collect: []string{run.dir}, CollectBase: run.dir,
			Env:     []string{"HOME=/root", "TMPDIR=/tmp", "PATH=" + vm.GuestDisk + "/bin:" + vm.GuestPath},
			Timeout: vm.Duration(timeout)})
	}
	return steps
}

// checkStage refuses --stage paths that do not exist, before anything is
// built or booted.
func checkStage(paths []string) error {
	seen := map[string]string{}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return Badf("--stage %s: %v (want a file or folder of this machine to copy into the guest's working directory)", p, err)
		}
		base := filepath.Base(filepath.Clean(p))
		if prev, ok := seen[base]; ok {
			return Badf("--stage %s and --stage %s: both would be %s in the guest's working directory", prev, p, base)
		}
		seen[base] = p
	}
	return nil
}

// copyInto copies the file or folder src into the directory dir, under its
// own name, keeping the permission bits (scripts stay executable).
func copyInto(src, dir string) error {
	src = filepath.Clean(src)
	dst := filepath.Join(dir, filepath.Base(src))
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case !d.Type().IsRegular():
			return nil
		}
		if err := vm.StageCopy(p, target); err != nil {
			return err
		}
		return os.Chmod(target, info.Mode().Perm())
	})
}

// fsArgs are the flags that make the guest's run make its file system.
func (g Guest) fsArgs() []string {
	if g.FS == "" {
		return nil
	}
	return []string{"--fs", g.FS}
}

// kernelArgs are the flags that make the guest's run check the kernel
// itself (--kernel-check there runs on its own kernel: --arch native).
func kernelArgs(r *Run) []string {
	if pl, ok := r.Mode.(PowerLoss); ok && pl.Kernel {
		return []string{"--kernel-check", "--arch", "native"}
	}
	return nil
}
