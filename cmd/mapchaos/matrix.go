package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mapchaos/mapchaos/config"
	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/harness"
	"github.com/mapchaos/mapchaos/mounts"
	"github.com/mapchaos/mapchaos/powerloss"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/vm"
)

type matrixFlags struct {
	config, writers, readers, out, mode, arch, cache     string
	model                                                string
	old, new, fs, pageSize                               string
	seed, updates                                        int64
	configSet, probeEveryWrite, pageSizeSet, kernelCheck bool
	writerNames, readerNames                             []string
	guest                                                vm.Arch // --arch arm64 with --page-size
}

func (a *app) parseMatrixFlags(args []string) (matrixFlags, error) {
	var f matrixFlags
	fs := flag.NewFlagSet("mapchaos matrix", flag.ContinueOnError)
	fs.StringVar(&f.config, "config", "ginkgo.yml", "the harness configuration (fixture, race settings, matrix, expectations)")
	fs.StringVar(&f.writers, "writers", "", "comma-separated writers to race (default: those of the config)")
	fs.StringVar(&f.readers, "readers", "", "comma-separated readers to race (default: those of the config)")
	fs.Int64Var(&f.seed, "seed", -1, "seed of the race (default: race.seed of the config)")
	fs.Int64Var(&f.updates, "updates", 0, "updates per combination (default: race.updates of the config)")
	fs.StringVar(&f.out, "out", filepath.Join("mapchaos-out", "matrix"), "output directory for the report and the run directories (new, empty, or an earlier run's)")
	fs.StringVar(&f.mode, "mode", "race", "race (by timing), step (the writer under ptrace, probed after every system call) or power-loss (the states a power cut may leave, opened by restarted readers)")
	fs.StringVar(&f.model, "model", "posix", "--mode power-loss: the persistence model, posix or ext4-ordered")
	fs.StringVar(&f.arch, "arch", "native", "native, arm64 or amd64 (a real kernel of that architecture under full-system emulation, with a Debian userland)")
	fs.StringVar(&f.pageSize, "page-size", "4k", pageSizeUsage)
	fs.StringVar(&f.cache, "cache", "", "fixture cache directory (default $MAPCHAOS_CACHE or the user cache dir)")
	fs.BoolVar(&f.probeEveryWrite, "probe-every-write", false, "--mode step: probe after every data write, not only at exponentially spaced ones (slower)")
	fs.StringVar(&f.old, "old", "", "race your own pair: the database before the update (with --new)")
	fs.StringVar(&f.new, "new", "", "race your own pair: the database after the update (with --old)")
	fs.StringVar(&f.fs, "fs", "", fsUsage)
	fs.BoolVar(&f.kernelCheck, "kernel-check", false, kernelCheckUsage)
	if err := parseFlags(fs, args, a.stdout, a.stderr); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, usagef("unexpected argument %q: matrix takes only flags", fs.Arg(0))
	}
	if err := f.given(fs); err != nil {
		return f, usageError{err}
	}
	if f.kernelCheck {
		set := map[string]bool{}
		fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
		if err := resolveKernelCheck(f.mode, &f.model, &f.arch, f.fs, set); err != nil {
			return f, err
		}
	}
	switch f.mode {
	case "race", "step", "power-loss":
	default:
		return f, usagef("--mode %q: want race, step or power-loss", f.mode)
	}
	if _, err := powerloss.ModelNamed(f.model); err != nil {
		return f, usagef("--model: %v", err)
	}
	if err := validArch(f.arch); err != nil {
		return f, err
	}
	var err error
	if f.guest, err = guestArch(f.arch, f.pageSize, f.pageSizeSet); err != nil {
		return f, err
	}
	if (f.old == "") != (f.new == "") {
		return f, usagef("--old and --new go together: give both (your own pair) or neither (a generated pair)")
	}
	if err := validFS(f.fs, f.arch); err != nil {
		return f, err
	}
	return f, nil
}

// loadConfig reads --config; without the flag a missing ./ginkgo.yml means
// the built-in default config (config.go).
func loadConfig(ctx context.Context, f matrixFlags) (config.Config, error) {
	if _, err := os.Stat(f.config); err != nil && !f.configSet {
		return builtinConfig()
	}
	c, err := config.LoadContext(ctx, f.config)
	if err != nil {
		return c, usageError{err}
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (a *app) matrix(ctx context.Context, args []string) (int, error) {
	start := time.Now()
	f, err := a.parseMatrixFlags(args)
	if err != nil {
		return 0, err
	}
	cfg, err := loadConfig(ctx, f)
	if err != nil {
		return 0, err
	}
	if f.seed >= 0 {
		cfg.Race.Seed = f.seed
	}
	if f.updates > 0 {
		cfg.Race.Updates = int(f.updates)
	}
	if f.old != "" {
		cfg.Fixture.Old, cfg.Fixture.New = f.old, f.new
	}
	plan, err := harness.Resolve(cfg, a.writers, a.readers, f.writerNames, f.readerNames)
	if err != nil {
		return 0, usageError{err}
	}
	a.sayConfig(cfg, false)
	r := &harness.Run{Plan: plan, Mode: f.runMode(), Env: f.env(), Self: a.self,
		Repro: harness.Repro{Config: cfg.Path, Old: f.old, New: f.new, Mode: f.mode, Model: f.model, Seed: cfg.Race.Seed, Updates: int(f.updates), FS: f.fs}}
	if f.mode == "step" && f.updates != 1 {
		r.Repro.Updates = 0 // --updates means nothing to step mode but 1 or not 1
	}
	if r.Pair, err = a.fixturePair(ctx, cfg, f.cache); err != nil {
		return 0, err
	}
	if r.Out, err = filepath.Abs(f.out); err != nil {
		return 0, usagef("--out: %v", err)
	}
	if err := harness.PrepareOut(r.Out); err != nil {
		return 0, err
	}
	a.announce(r)
	placed, err := execute(ctx, r, newPrinter(a, "matrix", len(plan.Combos), start))
	if err != nil {
		return 0, err
	}
	return a.conclude(placed, r.Out, start), nil
}

// execute runs r, telling p, and writes its reports. An interrupt while
// they were written (each is whole) is still an interrupt.
func execute(ctx context.Context, r *harness.Run, p *printer) ([]harness.Placed, error) {
	r.Events = p
	placed, err := r.Execute(ctx)
	p.close()
	if err != nil {
		return nil, err
	}
	if err := harness.Write(r.Out, placed); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("while the reports were written (each is whole): %w", err)
	}
	return placed, nil
}

// runMode is the Mode the flags ask for.
func (f matrixFlags) runMode() harness.Mode {
	if f.mode == "power-loss" {
		p := harness.PowerLoss{Model: f.model, Updates: 2, Kernel: f.kernelCheck, KernelFS: kernelFS(f.fs)}
		if f.updates == 1 {
			p.Updates = 1
		}
		return p
	}
	if f.mode == "step" {
		s := harness.Step{Updates: 2, EveryWrite: f.probeEveryWrite}
		if f.updates == 1 {
			s.Updates = 1
		}
		return s
	}
	return harness.Race{}
}

// env is the Environment the flags ask for.
func (f matrixFlags) env() harness.Environment {
	if f.kernelCheck {
		return kernelEnv(f.guest, f.fs, nil)
	}
	return envFor(f.guest, f.fs, nil)
}

// validArch checks --arch.
func validArch(arch string) error {
	if arch == "native" {
		return nil
	}
	if _, err := vm.ArchNamed(arch); err != nil {
		return usagef("--arch %q: want native, arm64 or amd64 (a guest kernel under full-system emulation)", arch)
	}
	return nil
}

// envFor is the Environment of --arch (with --page-size: guest, from
// guestArch), --fs and --stage: a guest for --arch, else --fs's mounted
// file system, else Local.
func envFor(guest vm.Arch, fs string, stage []string) harness.Environment {
	if guest.Name != "" {
		return harness.Guest{Arch: guest, FS: fs, Stage: stage}
	}
	if harness.IsNFS(fs) {
		if err := harness.NFSAvailable(); err != nil {
			// No NFS server in this kernel: the amd64 guest's kernel has one.
			return harness.Guest{Arch: vm.Amd64, FS: fs, Stage: stage,
				Why: fmt.Sprintf("--fs %s runs in the amd64 guest (%v; --arch arm64 for the arm64 guest)", fs, err)}
		}
	}
	return fsEnv(fs)
}

const fsUsage = "run on a file system mounted for the run: ext4, xfs, btrfs (loop-mounted images), tmpfs, or overlay (the target in a container image's lower layer); " +
	"or NFS as a shared volume: nfs4 (NFSv4.1, EFS's protocol) or nfs3, the updater on one NFS client and the readers on another, the readers' pages evicted at seeded moments " +
	"(suffix -server: the updater on the server; -warm: no eviction; e.g. nfs4-server-warm), in a guest when this kernel has no NFS server; " +
	"needs root; with --arch, made inside the guest (default: where --out is; in a guest, its ext4 disk and then a tmpfs)"

// validFS checks --fs: one of mounts.Kinds, on this machine.
func validFS(name, arch string) error {
	if name == "" || harness.IsNFS(name) {
		return nil // NFS: here, or in the amd64 guest when this kernel has no nfsd
	}
	if err := mounts.Valid(name); err != nil {
		return usagef("--fs: %v", err)
	}
	if arch != "" && arch != "native" {
		return nil // the guest makes it, as root, with its own mkfs
	}
	if err := mounts.Available(name); err != nil {
		return usageError{err} // before a fixture or the output directory is touched
	}
	return nil
}

// fsEnv is the Environment of --fs: Local without it.
func fsEnv(name string) harness.Environment {
	if name == "" {
		return harness.Local{}
	}
	if spec, ok := harness.ParseNFS(name); ok {
		return harness.NFS{Spec: spec}
	}
	return harness.Mounted{FS: name}
}

// announce prints what the run is about to do.
func (a *app) announce(r *harness.Run) {
	rc := r.Plan.Config.Race
	n := len(r.Plan.Combos)
	switch {
	case isGuest(r.Env):
		return
	case r.Mode.Name() == "power-loss":
		fmt.Fprintf(a.stdout, "power loss in %d combinations: %d update(s) per writer traced under ptrace, the crash states of each (%s model) opened by restarted readers, seed %d\n",
			n, r.Mode.(harness.PowerLoss).Updates, r.Mode.(harness.PowerLoss).Model, rc.Seed)
	case r.Mode.Name() == "step":
		fmt.Fprintf(a.stdout, "stepping %d combinations: %d update(s) per writer under ptrace, every reader probed at every step, seed %d\n",
			n, r.Mode.(harness.Step).Updates, rc.Seed)
	default:
		fmt.Fprintf(a.stdout, "racing %d combinations: %d updates each, %d running + %d starting readers per update, seed %d\n",
			n, rc.Updates, rc.RunningReaders, rc.StartingReaders, rc.Seed)
	}
}

// conclude prints each matrix and where the report is, and returns the
// exit status: 1 when any combination missed its expectation.
func (a *app) conclude(placed []harness.Placed, out string, start time.Time) int {
	failed, total, unexpected := 0, 0, 0
	for _, p := range placed {
		fmt.Fprintln(a.stdout)
		if p.Label != "" {
			fmt.Fprintf(a.stdout, "%s on %s:\n", p.Report.Run.GOARCH, p.Label)
		}
		printMatrix(a.stdout, p.Report)
		for _, e := range p.Report.Results {
			total++
			if e.Expected == "" {
				unexpected++
			}
			if !e.Met {
				failed++
			}
		}
	}
	fmt.Fprintf(a.stdout, "\nreport: %s (also report.md, report.html, junit.xml)\n", filepath.Join(out, reports.JSONFile))
	if len(placed) > 1 {
		fmt.Fprintf(a.stdout, "each file system's report is in %s/<fs>, all side by side in %s\n", out, filepath.Join(out, "by-fs", reports.MergedMarkdownFile))
	}
	if failed > 0 {
		fmt.Fprintf(a.stdout, "%d of %d combinations did not meet their expectation\n", failed, total)
		return exitFailed
	}
	where := ""
	if len(placed) > 1 {
		where = fmt.Sprintf(" on %s", placed[0].Report.Run.GOARCH)
	}
	fmt.Fprintln(a.stdout, closing(total, unexpected, where, time.Since(start).Seconds()))
	return exitOK
}

// fixturePair resolves the pair of cfg: the user's own (--old and --new,
// or the config's), or the generated pair (reused from the cache).
func (a *app) fixturePair(ctx context.Context, cfg config.Config, cache string) (fixtures.Pair, error) {
	if cfg.Fixture.Old != "" {
		fmt.Fprintf(a.stdout, "fixture: your own pair, old %s, new %s\n", cfg.Fixture.Old, cfg.Fixture.New)
	} else {
		if cache == "" {
			cache = fixtures.DefaultCacheDir()
		}
		fmt.Fprintf(a.stdout, "fixture: %s, %s (cache %s)\n", humanSize(cfg.Fixture.Size), cfg.Fixture.Shape, cache)
	}
	pair, err := harness.ResolveFixture(ctx, cfg.Fixture, cfg.Race.Seed, cache)
	if err != nil {
		return pair, err
	}
	fmt.Fprintf(a.stdout, "fixture: %s\n", harness.FixtureText(pair))
	return pair, nil
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// progressLine is the line printed for a finished combination.
func progressLine(i, n int, e reports.Entry, elapsed time.Duration) string {
	mark := "ok"
	switch {
	case e.WriterError != "":
		mark = "WRITER FAILED: " + e.WriterError
	case e.Expected == "":
		mark = "(no expectation)"
	case !e.Met:
		mark = "UNEXPECTED (expected " + e.Expected + ")"
	}
	return fmt.Sprintf("[%2d/%d %5.1fs] %-16s x %-17s %-9s %s  (%s; %s)\n",
		i, n, elapsed.Seconds(), e.Writer, e.Reader, e.Verdict, mark, roles(e), measured(e))
}

// printMatrix prints the verdict matrix: writers as rows, readers as columns.
func printMatrix(w io.Writer, r reports.Report) {
	var ws, rs []string
	cell := map[[2]string]reports.Entry{}
	for _, e := range r.Results {
		if _, ok := cell[[2]string{e.Writer, ""}]; !ok {
			ws = append(ws, e.Writer)
			cell[[2]string{e.Writer, ""}] = e
		}
		if _, ok := cell[[2]string{"", e.Reader}]; !ok {
			rs = append(rs, e.Reader)
			cell[[2]string{"", e.Reader}] = e
		}
		cell[[2]string{e.Writer, e.Reader}] = e
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "writer \\ reader")
	for _, rd := range rs {
		fmt.Fprint(tw, "\t"+rd)
	}
	fmt.Fprintln(tw)
	for _, wr := range ws {
		fmt.Fprint(tw, wr)
		for _, rd := range rs {
			e, ok := cell[[2]string{wr, rd}]
			switch {
			case !ok:
				fmt.Fprint(tw, "\t-")
			case !e.Met:
				fmt.Fprintf(tw, "\t%s (expected %s) !", e.Verdict, orNone(e.Expected))
			default:
				fmt.Fprintf(tw, "\t%s", e.Verdict)
			}
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintf(w, "%s/%s, %s, kernel %s, page size %d, seed %d\n", r.Run.GOOS, r.Run.GOARCH, r.Run.FS, r.Run.Kernel, r.Run.PageSize, r.Run.Seed)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// isGuest says whether env runs in a guest (which announces itself).
func isGuest(env harness.Environment) bool {
	_, ok := env.(harness.Guest)
	return ok
}
