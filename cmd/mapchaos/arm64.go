package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mapchaos/mapchaos/config"
	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/matrix"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/vm"
)

// The file systems the arm64 guest races on, in order: the first one's
// report is also written at the top of the output directory.
var arm64Runs = []struct{ fs, dir string }{
	{"ext4", vm.GuestDisk + "/ext4"},
	{"tmpfs", vm.GuestTmpfs + "/tmpfs"},
}

// arm64Machine describes the emulated machine in reports.
const arm64Machine = "qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 1536 (TCG)"

// matrixArm64 runs the matrix inside a real arm64 kernel under
// qemu-system-aarch64: it builds the harness for linux/arm64 from source,
// boots Debian's arm64 cloud kernel (fetched once, cached) with the guest
// init, races the same matrix on ext4 and on tmpfs in the guest, and
// writes both reports with goarch arm64 and emulation qemu-system.
func (a *app) matrixArm64(ctx context.Context, f matrixFlags, cfg config.Config, plan matrix.Plan) (int, error) {
	start := time.Now()
	for _, c := range plan.Combos {
		if len(c.Reader.Command) > 0 {
			return 0, usagef("--arch arm64: reader %q is a foreign program of this machine; the arm64 guest runs the built-in readers only", c.Reader.Name)
		}
	}
	var err error
	if f.out, err = filepath.Abs(f.out); err != nil {
		return 0, usagef("--out: %v", err)
	}
	if err := prepareOut(f.out); err != nil {
		return 0, err
	}
	timeout, err := arm64Timeout(len(plan.Combos))
	if err != nil {
		return 0, err
	}
	cwd, _ := os.Getwd()
	kcache := vm.DefaultCacheDir()
	fmt.Fprintf(a.stdout, "arm64: qemu-system-aarch64, Go toolchain, source, kernel (cache %s)\n", kcache)
	host, err := vm.Setup(ctx, cwd, kcache, vm.Apt{})
	if err != nil {
		return 0, fmt.Errorf("--arch arm64: %w", err)
	}
	if host.Fetched {
		fmt.Fprintf(a.stdout, "arm64: downloaded %s %s in %.1fs (cached for the next run)\n", host.Kernel.Package, host.Kernel.Version, host.FetchTime.Seconds())
	} else {
		fmt.Fprintf(a.stdout, "arm64: kernel %s %s (cached, not downloaded)\n", host.Kernel.Package, host.Kernel.Version)
	}

	pair, err := a.fixturePair(ctx, cfg, f.cache)
	if err != nil {
		return 0, err
	}
	work, err := os.MkdirTemp("", "mapchaos-arm64-")
	if err != nil {
		return 0, fmt.Errorf("--arch arm64: %w", err)
	}
	defer os.RemoveAll(work)
	buildStart := time.Now()
	fmt.Fprintf(a.stdout, "arm64: building mapchaos and the guest init for linux/arm64 (CGO_ENABLED=0) from %s\n", host.Source.Root)
	args, err := stageArm64(ctx, host.Source, pair, cfg, work)
	if err != nil {
		return 0, fmt.Errorf("--arch arm64: %w", err)
	}
	buildTime := time.Since(buildStart)
	steps := arm64Steps(f, cfg, args, timeout)
	fmt.Fprintf(a.stdout, "arm64: booting %s, %s; racing %d combinations on ext4, then on tmpfs (at most %s)\n",
		host.Kernel.Release, arm64Machine, len(plan.Combos), timeout.Round(time.Second))
	bootStart := time.Now()
	g := vm.Guest{Kernel: host.Kernel, Init: filepath.Join(work, "init"), DiskDir: filepath.Join(work, "disk"), DiskFreeMiB: 768, Work: work,
		Plan: vm.Plan{Steps: steps},
		Machine: vm.Machine{Qemu: host.Qemu, MemMiB: 1536, CPUs: 2, Timeout: timeout,
			Pass: func(line string) { fmt.Fprintf(a.stdout, "arm64 | %s\n", line) }}}
	out, err := g.Boot(ctx)
	switch {
	case errors.Is(err, context.Canceled):
		return 0, fmt.Errorf("--arch arm64: %w", context.Canceled) // Ctrl-C: no console tail
	case err != nil:
		return 0, fmt.Errorf("--arch arm64: %w", err)
	}
	bootToResult := time.Since(bootStart)

	var reps []reports.Report
	failed := 0
	for _, r := range arm64Runs {
		rep, err := a.arm64Result(out.Transcript, r.fs, filepath.Join(f.out, r.fs), f, cfg, plan)
		if err != nil {
			return 0, err
		}
		for _, e := range rep.Results {
			if !e.Met {
				failed++
			}
		}
		reps = append(reps, rep)
	}
	if err := reports.WriteAll(f.out, reps[0]); err != nil {
		return 0, fmt.Errorf("write report: %w", err)
	}
	m, err := reports.Merge(reps, []string{"arm64 " + arm64Runs[0].fs, "arm64 " + arm64Runs[1].fs})
	if err == nil {
		err = reports.WriteMerged(filepath.Join(f.out, "by-fs"), m)
	}
	if err != nil {
		return 0, fmt.Errorf("write the ext4/tmpfs comparison: %w", err)
	}
	for i, r := range arm64Runs {
		fmt.Fprintf(a.stdout, "\narm64 on %s:\n", r.fs)
		printMatrix(a.stdout, reps[i])
	}
	fmt.Fprintf(a.stdout, "\nreport: %s (the %s run; the %s run is in %s, both side by side in %s)\n",
		filepath.Join(f.out, "report.json"), arm64Runs[0].fs, arm64Runs[1].fs,
		filepath.Join(f.out, arm64Runs[1].fs, "report.json"), filepath.Join(f.out, "by-fs", reports.MergedMarkdownFile))
	fmt.Fprintf(a.stdout, "arm64 timings: kernel %s, build %.1fs, boot %.1fs, boot-to-result %.1fs (%s), total %.1fs\n",
		kernelTiming(host), buildTime.Seconds(), out.Boot.Seconds(), bootToResult.Seconds(), stepTimes(out.Transcript), time.Since(start).Seconds())
	if failed > 0 {
		fmt.Fprintf(a.stdout, "%d of %d results did not meet their expectation\n", failed, 2*len(plan.Combos))
		return exitFailed, nil
	}
	fmt.Fprintf(a.stdout, "every expectation held on arm64 (%d combinations, on ext4 and on tmpfs)\n", len(plan.Combos))
	return exitOK, nil
}

// stageArm64 builds the guest init (work/init) and lays out the guest's
// disk (work/disk): bin/mapchaos, the fixture and ginkgo.yml. It returns
// the matrix flags that find the fixture and the config there.
func stageArm64(ctx context.Context, src vm.Source, pair fixtures.Pair, cfg config.Config, work string) ([]string, error) {
	disk := filepath.Join(work, "disk")
	args, err := stageFixture(pair, disk)
	if err != nil {
		return nil, fmt.Errorf("stage the fixture: %w", err)
	}
	if cfg.Path != "" {
		if err := vm.StageCopy(cfg.Path, filepath.Join(disk, "ginkgo.yml")); err != nil {
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

// arm64Steps are the guest's runs of the matrix, one per file system, with
// the flags of this one.
func arm64Steps(f matrixFlags, cfg config.Config, stageArgs []string, timeout time.Duration) []vm.Step {
	var steps []vm.Step
	for _, r := range arm64Runs {
		argv := append([]string{vm.GuestDisk + "/bin/mapchaos", "matrix"}, stageArgs...)
		argv = append(argv, "--out", r.dir, "--seed", fmt.Sprint(cfg.Race.Seed), "--mode", f.mode)
		if f.writers != "" {
			argv = append(argv, "--writers", f.writers)
		}
		if f.readers != "" {
			argv = append(argv, "--readers", f.readers)
		}
		if f.updates > 0 {
			argv = append(argv, "--updates", fmt.Sprint(f.updates))
		}
		steps = append(steps, vm.Step{Name: r.fs, Argv: argv, Dir: r.dir, Collect: []string{r.dir},
			Env:     []string{"HOME=/root", "TMPDIR=/tmp", "PATH=" + vm.GuestDisk + "/bin:/bin"},
			Timeout: vm.Duration(timeout)})
	}
	return steps
}

// arm64Result unpacks what the guest's run on fs sent back into dir, marks
// the report as an arm64 run under qemu-system and rewrites it.
func (a *app) arm64Result(t vm.Transcript, fs, dir string, f matrixFlags, cfg config.Config, plan matrix.Plan) (reports.Report, error) {
	s := t.Step(fs)
	switch {
	case s == nil || !s.Ended:
		return reports.Report{}, fmt.Errorf("--arch arm64: the %s run never finished", fs)
	case s.Code == exitUsage:
		return reports.Report{}, usagef("--arch arm64: the guest refused the run on %s (exit 2; its message is above)", fs)
	case s.Code != exitOK && s.Code != exitFailed:
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
	rep, err := reports.Read(filepath.Join(dir, "report.json"))
	if err != nil {
		return rep, fmt.Errorf("--arch arm64: the %s run's report: %w", fs, err)
	}
	markArm64(&rep, t, cfg.Path)
	combos := map[string]matrix.Combo{}
	for _, c := range plan.Combos {
		combos[c.Writer.Name+" "+c.Reader.Name] = c
	}
	for i := range rep.Results {
		e := &rep.Results[i]
		if c, ok := combos[e.Writer+" "+e.Reader]; ok && e.Evidence != nil {
			e.Evidence.Repro = reproCommand(f, cfg, c) + " --arch arm64"
		}
	}
	if err := reports.WriteAll(dir, rep); err != nil {
		return rep, fmt.Errorf("write report: %w", err)
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
			return 0, usagef("MAPCHAOS_VM_TIMEOUT=%q: want a duration such as 20m", v)
		}
		return d, nil
	}
	return 5*time.Minute + time.Duration(2*combos)*2*time.Minute, nil
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
