package harness

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/vm"
)

// Arm64 runs inside a real arm64 Linux kernel under full-system emulation
// (qemu-system-aarch64): it builds mapchaos for linux/arm64 from source,
// boots Debian's arm64 cloud kernel (fetched once, cached) with the guest
// init, runs the same plan there on ext4 and on tmpfs, and returns both
// reports, marked goarch arm64 and emulation qemu-system. The guest runs
// Debian's own userland (vm.RootPackages), so a check's updater
// (WriterCmd) and foreign reader (ReaderCmd) run there as they are:
// `mapchaos check` runs in the guest, in GuestWork, where Stage's files
// and folders are copied first.
type Arm64 struct {
	// Stage lists files and folders of this machine copied into the
	// guest's working directory (check's --stage).
	Stage []string
}

// GuestWork is the working directory of a check in the guest: staged
// files are there, and the updater and the reader run there.
const GuestWork = vm.GuestDisk + "/work"

// Name says where the run happens.
func (Arm64) Name() string { return "an arm64 guest (qemu-system-aarch64)" }

// The file systems the guest runs on, in order.
var arm64Runs = []struct{ fs, dir string }{
	{"ext4", vm.GuestDisk + "/ext4"},
	{"tmpfs", vm.GuestTmpfs + "/tmpfs"},
}

// arm64Machine describes the emulated machine in reports.
const arm64Machine = "qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 1536 (TCG)"

// Execute boots the guest, runs the plan there and unpacks its reports
// into Out/ext4 and Out/tmpfs.
func (g Arm64) Execute(ctx context.Context, r *Run) ([]Placed, error) {
	start := time.Now()
	for _, c := range r.Plan.Combos {
		if len(c.Reader.Command) > 0 && r.WriterCmd == "" {
			return nil, Badf("--arch arm64: reader %q is a foreign program; the arm64 guest runs foreign readers in a check (mapchaos check --arch arm64 --reader-cmd ...)", c.Reader.Name)
		}
	}
	if err := checkStage(g.Stage); err != nil {
		return nil, err
	}
	timeout, err := arm64Timeout(len(r.Plan.Combos))
	if err != nil {
		return nil, err
	}
	cwd, _ := os.Getwd()
	kcache := vm.DefaultCacheDir()
	r.Events.Note(fmt.Sprintf("arm64: qemu-system-aarch64, Go toolchain, source, kernel (cache %s)", kcache))
	host, err := vm.Setup(ctx, cwd, kcache, vm.Want{Arch: vm.Arm64, Root: true}, vm.Apt{})
	if err != nil {
		return nil, fmt.Errorf("--arch arm64: %w", err)
	}
	r.Events.Note("arm64: " + kernelNote(host))
	work, err := os.MkdirTemp("", "mapchaos-arm64-")
	if err != nil {
		return nil, fmt.Errorf("--arch arm64: %w", err)
	}
	defer os.RemoveAll(work)
	out, t, err := g.boot(ctx, r, host, work, timeout)
	if err != nil {
		return nil, err
	}
	var placed []Placed
	for _, run := range arm64Runs {
		rep, err := arm64Result(out.Transcript, run.fs, filepath.Join(r.Out, run.fs), r)
		if err != nil {
			return nil, err
		}
		placed = append(placed, Placed{Label: run.fs, Dir: filepath.Join(r.Out, run.fs), Report: rep})
	}
	r.Events.Note(fmt.Sprintf("arm64 timings: kernel %s, build %.1fs, boot %.1fs, boot-to-result %.1fs (%s), total %.1fs",
		kernelTiming(host), t.build.Seconds(), out.Boot.Seconds(), t.result.Seconds(), stepTimes(out.Transcript), time.Since(start).Seconds()))
	return placed, nil
}

// timings are how long building and booting took.
type timings struct{ build, result time.Duration }

// boot builds what the guest needs into work and boots it.
func (g Arm64) boot(ctx context.Context, r *Run, host vm.Host, work string, timeout time.Duration) (vm.Outcome, timings, error) {
	buildStart := time.Now()
	r.Events.Note(fmt.Sprintf("arm64: building mapchaos and the guest init for linux/arm64 (CGO_ENABLED=0) from %s", host.Source.Root))
	args, err := stageArm64(ctx, host.Source, r.Pair, r.Plan.Config.Path, work)
	if err != nil {
		return vm.Outcome{}, timings{}, fmt.Errorf("--arch arm64: %w", err)
	}
	for _, p := range g.Stage {
		if err := copyInto(p, filepath.Join(work, "disk", "work")); err != nil {
			return vm.Outcome{}, timings{}, fmt.Errorf("--arch arm64: --stage %s: %w", p, err)
		}
	}
	t := timings{build: time.Since(buildStart)}
	r.Events.Note(fmt.Sprintf("arm64: booting %s, %s; running %d combinations on ext4, then on tmpfs (at most %s)",
		host.Kernel.Release, arm64Machine, len(r.Plan.Combos), timeout.Round(time.Second)))
	bootStart := time.Now()
	guest := vm.Guest{Kernel: host.Kernel, Root: host.Root.Image(), Init: filepath.Join(work, "init"), DiskDir: filepath.Join(work, "disk"), DiskFreeMiB: 768, Work: work,
		Plan: vm.Plan{Steps: arm64Steps(r, args, timeout)},
		Machine: vm.Machine{Qemu: host.Qemu, MemMiB: 1536, CPUs: 2, Timeout: timeout,
			Pass: func(line string) { r.Events.Note("arm64 | " + line) }}}
	out, err := guest.Boot(ctx)
	switch {
	case errors.Is(err, context.Canceled):
		return out, t, fmt.Errorf("--arch arm64: %w", context.Canceled) // Ctrl-C: no console tail
	case err != nil:
		return out, t, fmt.Errorf("--arch arm64: %w", err)
	}
	t.result = time.Since(bootStart)
	return out, t, nil
}

// stageArm64 builds the guest init (work/init) and lays out the guest's
// disk (work/disk): bin/mapchaos, the fixture and the config. It returns
// the matrix flags that find the fixture and the config there.
func stageArm64(ctx context.Context, src vm.Source, pair fixtures.Pair, cfgPath, work string) ([]string, error) {
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

// arm64Steps are the guest's runs of the plan, one per file system.
func arm64Steps(r *Run, stageArgs []string, timeout time.Duration) []vm.Step {
	if r.WriterCmd != "" {
		return checkSteps(r, stageArgs, timeout)
	}
	var ws, rs []string
	for _, w := range r.Plan.Writers() {
		ws = append(ws, w.Name)
	}
	for _, c := range r.Plan.Of(ws[0]) {
		rs = append(rs, c.Reader.Name)
	}
	var steps []vm.Step
	for _, run := range arm64Runs {
		argv := append([]string{vm.GuestDisk + "/bin/mapchaos", "matrix"}, stageArgs...)
		argv = append(argv, "--out", run.dir, "--seed", fmt.Sprint(r.Plan.Config.Race.Seed), "--mode", r.Mode.Name(),
			"--writers", strings.Join(ws, ","), "--readers", strings.Join(rs, ","))
		if r.Repro.Updates > 0 {
			argv = append(argv, "--updates", fmt.Sprint(r.Repro.Updates))
		}
		if pl, ok := r.Mode.(PowerLoss); ok && pl.Model != "" {
			argv = append(argv, "--model", pl.Model)
		}
		steps = append(steps, vm.Step{Name: run.fs, Argv: argv, Dir: run.dir, Collect: []string{run.dir},
			Env:     []string{"HOME=/root", "TMPDIR=/tmp", "PATH=" + vm.GuestDisk + "/bin:" + vm.GuestPath},
			Timeout: vm.Duration(timeout)})
	}
	return steps
}

// arm64Result unpacks what the guest's run on fs sent back into dir and
// marks the report as an arm64 run under qemu-system.
func arm64Result(t vm.Transcript, fs, dir string, r *Run) (reports.Report, error) {
	s := t.Step(fs)
	switch {
	case s == nil || !s.Ended:
		return reports.Report{}, fmt.Errorf("--arch arm64: the %s run never finished", fs)
	case s.Code == 2:
		return reports.Report{}, Badf("--arch arm64: the guest refused the run on %s (exit 2; its message is above)", fs)
	case s.Code != 0 && s.Code != 1:
		return reports.Report{}, fmt.Errorf("--arch arm64: the harness failed in the guest on %s: exit %d %s(its output is above)", fs, s.Code, orEmpty(s.Reason))
	case s.Blob == nil:
		return reports.Report{}, fmt.Errorf("--arch arm64: the %s run sent back no report", fs)
	}
	if err := os.RemoveAll(dir); err != nil {
		return reports.Report{}, fmt.Errorf("clear %s: %w", dir, err)
	}
	if err := vm.Unpack(s.Blob, dir); err != nil {
		return reports.Report{}, fmt.Errorf("--arch arm64: %s: %w", fs, err)
	}
	rep, err := reports.Read(filepath.Join(dir, reports.JSONFile))
	if err != nil {
		return rep, fmt.Errorf("--arch arm64: the %s run's report: %w", fs, err)
	}
	markArm64(&rep, t, r.Plan.Config.Path)
	repro := r.Repro
	repro.Arch = "arm64"
	for i := range rep.Results {
		if e := &rep.Results[i]; e.Evidence != nil {
			e.Evidence.Repro = repro.For(e.Writer, e.Reader)
		}
	}
	return rep, nil
}

// markArm64 records in a guest's report what the guest cannot know: that
// it ran under full-system emulation, on which host, with which config.
func markArm64(rep *reports.Report, t vm.Transcript, cfgPath string) {
	rep.Run.Emulation = "qemu-system"
	rep.Run.Config = cfgPath
	if h, err := os.Hostname(); err == nil {
		rep.Run.Host = h
	}
	if rep.Run.Kernel == "" {
		rep.Run.Kernel = t.Info["kernel"]
	}
	rep.Run.Warnings = append(rep.Run.Warnings,
		"ran in a real arm64 Linux kernel under full-system emulation ("+arm64Machine+"): "+
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

// arm64Timeout bounds the whole guest run: $MAPCHAOS_VM_TIMEOUT when set,
// else 5 minutes plus 2 minutes per combination and file system.
func arm64Timeout(combos int) (time.Duration, error) {
	if v := os.Getenv("MAPCHAOS_VM_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return 0, Badf("MAPCHAOS_VM_TIMEOUT=%q: want a duration such as 20m", v)
		}
		return d, nil
	}
	return 5*time.Minute + time.Duration(2*combos)*2*time.Minute, nil
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
func checkSteps(r *Run, stageArgs []string, timeout time.Duration) []vm.Step {
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
	if p.Timeout != 0 {
		args = append(args, "--writer-timeout", p.Timeout.String())
	}
	if f := r.Plan.Config.Fixture; f.Old == "" {
		args = append(args, "--size", fmt.Sprint(f.Size), "--shape", string(f.Shape))
	}
	var steps []vm.Step
	for _, run := range arm64Runs {
		argv := append([]string{vm.GuestDisk + "/bin/mapchaos", "check"}, stageArgs...)
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
