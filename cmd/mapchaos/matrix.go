package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mapchaos/mapchaos/config"
	"github.com/mapchaos/mapchaos/engine"
	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/matrix"
	"github.com/mapchaos/mapchaos/reports"
)

// outMarker marks a directory as a mapchaos output directory, which a later
// run may clear and reuse.
const outMarker = ".mapchaos-out"

type matrixFlags struct {
	config, writers, readers, out, mode, arch, cache string
	old, new                                         string
	seed, updates                                    int64
	configSet, probeEveryWrite                       bool
}

func (a *app) parseMatrixFlags(args []string) (matrixFlags, error) {
	var f matrixFlags
	fs := flag.NewFlagSet("mapchaos matrix", flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.StringVar(&f.config, "config", "ginkgo.yml", "the harness configuration (fixture, race settings, matrix, expectations)")
	fs.StringVar(&f.writers, "writers", "", "comma-separated writers to race (default: those of the config)")
	fs.StringVar(&f.readers, "readers", "", "comma-separated readers to race (default: those of the config)")
	fs.Int64Var(&f.seed, "seed", -1, "seed of the race (default: race.seed of the config)")
	fs.Int64Var(&f.updates, "updates", 0, "updates per combination (default: race.updates of the config)")
	fs.StringVar(&f.out, "out", "mapchaos-out", "output directory for the report and the run directories")
	fs.StringVar(&f.mode, "mode", "race", "race (by timing) or step (the writer under ptrace, probed after every system call)")
	fs.StringVar(&f.arch, "arch", "native", "native, or arm64 (a real arm64 kernel under full-system emulation)")
	fs.StringVar(&f.cache, "cache", "", "fixture cache directory (default $MAPCHAOS_CACHE or the user cache dir)")
	fs.BoolVar(&f.probeEveryWrite, "probe-every-write", false, "--mode step: probe after every data write, not only at exponentially spaced ones (slower)")
	fs.StringVar(&f.old, "old", "", "race your own pair: the database before the update (with --new)")
	fs.StringVar(&f.new, "new", "", "race your own pair: the database after the update (with --old)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return f, usageError{errors.New("help requested")}
		}
		return f, usageError{err}
	}
	if fs.NArg() > 0 {
		return f, usagef("unexpected argument %q: matrix takes only flags", fs.Arg(0))
	}
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "config" {
			f.configSet = true
		}
	})
	switch f.mode {
	case "race", "step":
	default:
		return f, usagef("--mode %q: want race or step", f.mode)
	}
	switch f.arch {
	case "native", "arm64":
	default:
		return f, usagef("--arch %q: want native or arm64", f.arch)
	}
	if f.updates < 0 || f.updates > 10000 {
		return f, usagef("--updates %d: want 1 to 10000", f.updates)
	}
	if (f.old == "") != (f.new == "") {
		return f, usagef("--old and --new go together: give both (your own pair) or neither (a generated pair)")
	}
	if f.seed < -1 {
		return f, usagef("--seed %d: want a non-negative number", f.seed)
	}
	return f, nil
}

// loadConfig reads --config; without the flag a missing ./ginkgo.yml means
// the built-in defaults.
func loadConfig(ctx context.Context, f matrixFlags) (config.Config, error) {
	if _, err := os.Stat(f.config); err != nil && !f.configSet {
		return config.Default(), nil
	}
	c, err := config.LoadContext(ctx, f.config)
	if err != nil {
		return c, usageError{err}
	}
	return c, nil
}

// ours are the names mapchaos writes or clears in an output directory.
var ours = []string{"runs", reports.JSONFile, reports.MarkdownFile, reports.HTMLFile, reports.JUnitFile}

// prepareOut makes sure dir can hold this run's output and is writable. A
// run replaces report files and clears runs/: where any of those exist
// already, dir must be the output of an earlier run (marked), so that a
// user's own files of those names are never overwritten. Other files
// (such as the suites' subdirectories) are left alone.
func prepareOut(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return usagef("--out %s: cannot use it as the output directory: %v", dir, err)
	case !st.IsDir():
		return usagef("--out %s: cannot use it as the output directory: not a directory", dir)
	default:
		if _, err := os.Stat(filepath.Join(dir, outMarker)); err != nil {
			for _, name := range ours {
				if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
					return usagef("--out %s: it holds %s, which mapchaos would replace, but was not made by mapchaos (no %s file): choose a new or empty directory", dir, name, outMarker)
				}
			}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return usagef("--out %s: cannot create it: %v", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, outMarker), []byte("made by mapchaos; a later run may clear runs/ and replace the reports here\n"), 0o644); err != nil {
		return usagef("--out %s: not writable: %v", dir, err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "runs")); err != nil {
		return fmt.Errorf("clear %s: %w", filepath.Join(dir, "runs"), err)
	}
	return nil
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
	plan, err := matrix.Resolve(cfg, a.writers, a.readers, splitList(f.writers), splitList(f.readers))
	if err != nil {
		return 0, usageError{err}
	}
	if f.arch == "arm64" {
		return a.matrixArm64(ctx, f, cfg, plan)
	}
	pair, err := a.fixturePair(ctx, cfg, f.cache)
	if err != nil {
		return 0, err
	}
	if f.out, err = filepath.Abs(f.out); err != nil {
		return 0, usagef("--out: %v", err)
	}
	if err := prepareOut(f.out); err != nil {
		return 0, err
	}

	if f.mode == "step" {
		return a.matrixStep(ctx, f, cfg, plan, pair)
	}
	rep := matrix.NewReport(f.out, cfg.Race.Seed, cfg.Path, pair)
	return a.raceMatrix(ctx, f, cfg, plan, pair, rep, start)
}

// raceMatrix races every combination of plan by timing, one line per
// combination as it finishes, then writes the report and concludes.
func (a *app) raceMatrix(ctx context.Context, f matrixFlags, cfg config.Config, plan matrix.Plan, pair fixtures.Pair, rep reports.Report, start time.Time) (int, error) {
	runner := matrix.Runner{Plan: plan, Pair: pair, Out: f.out, ReaderCmd: []string{a.self, "reader"},
		Repro: func(c matrix.Combo) string { return reproCommand(f, cfg, c) }}
	n := len(plan.Combos)
	fmt.Fprintf(a.stdout, "racing %d combinations: %d updates each, %d running + %d starting readers per update, seed %d\n",
		n, cfg.Race.Updates, cfg.Race.RunningReaders, cfg.Race.StartingReaders, cfg.Race.Seed)
	prog := newProgress(a.stdout, n, start)
	defer prog.close()
	for i, c := range plan.Combos {
		prog.begin(i+1, c.Name())
		e, err := runner.Run(ctx, c)
		if err != nil {
			return 0, err
		}
		rep.Results = append(rep.Results, e)
		prog.finished(progressLine(i+1, n, e, time.Since(start)), e.Verdict)
	}
	matrix.Finish(&rep, start)
	if err := reports.WriteAll(f.out, rep); err != nil {
		return 0, fmt.Errorf("write report: %w", err)
	}
	return a.conclude(rep, f.out, "also report.md, report.html, junit.xml", start), nil
}

// conclude prints the matrix and where the report is, and returns the exit
// status: 1 when any combination missed its expectation.
func (a *app) conclude(rep reports.Report, out, files string, start time.Time) int {
	fmt.Fprintln(a.stdout)
	printMatrix(a.stdout, rep)
	fmt.Fprintf(a.stdout, "\nreport: %s (%s)\n", filepath.Join(out, reports.JSONFile), files)
	failed := 0
	for _, e := range rep.Results {
		if !e.Met {
			failed++
		}
	}
	if failed > 0 {
		fmt.Fprintf(a.stdout, "%d of %d combinations did not meet their expectation\n", failed, len(rep.Results))
		return exitFailed
	}
	fmt.Fprintf(a.stdout, "every expectation held (%d combinations, %.1fs)\n", len(rep.Results), time.Since(start).Seconds())
	return exitOK
}

// fixturePair loads the user's own pair named by the config (or --old and
// --new), or generates (or reuses) the configured pair.
func (a *app) fixturePair(ctx context.Context, cfg config.Config, cache string) (fixtures.Pair, error) {
	if cfg.Fixture.Old != "" {
		fmt.Fprintf(a.stdout, "fixture: your own pair, old %s, new %s\n", cfg.Fixture.Old, cfg.Fixture.New)
		pair, err := fixtures.LoadPairContext(ctx, cfg.Fixture.Old, cfg.Fixture.New, uint64(cfg.Race.Seed))
		if err != nil {
			return pair, usagef("fixture: %w", err)
		}
		fmt.Fprintf(a.stdout, "fixture: %s\n", matrix.FixtureText(pair))
		return pair, nil
	}
	if cache == "" {
		cache = fixtures.DefaultCacheDir()
	}
	fmt.Fprintf(a.stdout, "fixture: %s, %s (cache %s)\n", humanSize(cfg.Fixture.Size), cfg.Fixture.Shape, cache)
	pair, err := fixtures.Generate(ctx, cfg.Fixture.Spec(), cache)
	if err != nil {
		return pair, fmt.Errorf("fixture: %w", err)
	}
	fmt.Fprintf(a.stdout, "fixture: %s\n", matrix.FixtureText(pair))
	return pair, nil
}

func reproCommand(f matrixFlags, cfg config.Config, c matrix.Combo) string {
	parts := []string{"mapchaos", "matrix"}
	if cfg.Path != "" {
		parts = append(parts, "--config", matrix.ShellQuote(cfg.Path))
	}
	if f.old != "" {
		parts = append(parts, "--old", matrix.ShellQuote(f.old), "--new", matrix.ShellQuote(f.new))
	}
	parts = append(parts, "--writers", c.Writer.Name, "--readers", c.Reader.Name, "--seed", fmt.Sprint(cfg.Race.Seed))
	if f.updates > 0 {
		parts = append(parts, "--updates", fmt.Sprint(f.updates))
	}
	return strings.Join(parts, " ")
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
	roles := ""
	if r, ok := e.Roles[engine.Running]; ok && r.Readers > 0 {
		roles += " running=" + r.Verdict.String()
	}
	if r, ok := e.Roles[engine.Starting]; ok && r.Readers > 0 {
		roles += " starting=" + r.Verdict.String()
	}
	return fmt.Sprintf("[%2d/%d %5.1fs] %-16s x %-17s %-9s %s  (%s; %d lookups, %.0f/s per reader)\n",
		i, n, elapsed.Seconds(), e.Writer, e.Reader, e.Verdict, mark, strings.TrimSpace(roles), e.Lookups, e.LookupsPerSec)
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
