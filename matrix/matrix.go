package matrix

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mapchaos/mapchaos/config"
	"github.com/mapchaos/mapchaos/engine"
	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/results"
	"github.com/mapchaos/mapchaos/writers"
)

// Combo is one combination of the matrix.
type Combo struct {
	Writer   writers.Strategy
	Reader   readers.Registration
	Expected *config.Expectation // nil when the config expects nothing
}

// Name is "writer x reader".
func (c Combo) Name() string { return c.Writer.Name + " x " + c.Reader.Name }

// Plan is a resolved matrix: what to race, and how.
type Plan struct {
	Config config.Config
	Combos []Combo
}

// Resolve checks the names in cfg against the registries and lists the
// combinations, writers in config order (all registered when none are
// listed), then readers likewise. onlyWriters/onlyReaders, when not empty,
// narrow the matrix (the --writers/--readers flags); they must name
// strategies of the matrix.
func Resolve(cfg config.Config, ws *writers.Registry, rs *readers.Registry, onlyWriters, onlyReaders []string) (Plan, error) {
	if err := cfg.CheckNames(ws.Names(), rs.Names()); err != nil {
		return Plan{}, err
	}
	wn, rn := cfg.Writers, cfg.Readers
	if len(wn) == 0 {
		wn = ws.Names()
	}
	if len(rn) == 0 { // every reader the fixture suits
		for _, r := range rs.All() {
			if r.Fixture == "" || r.Fixture == cfg.Fixture.Kind {
				rn = append(rn, r.Name)
			}
		}
	}
	var errs []error
	if len(onlyWriters) > 0 {
		for _, w := range onlyWriters {
			if _, err := ws.Lookup(w); err != nil {
				errs = append(errs, fmt.Errorf("--writers: %w", err))
			}
		}
		wn = onlyWriters
	}
	if len(onlyReaders) > 0 {
		for _, r := range onlyReaders {
			if _, err := rs.Lookup(r); err != nil {
				errs = append(errs, fmt.Errorf("--readers: %w", err))
			}
		}
		rn = onlyReaders
	}
	for _, r := range rn {
		rr, err := rs.Lookup(r)
		switch {
		case err != nil || rr.Fixture == "":
		case cfg.Fixture.Old != "":
			errs = append(errs, fmt.Errorf("reader %s checks its answers in the typed fields of a generated %s fixture, so it cannot race your own pair (fixture old/new); race your pair with readers that need no fixture kind", r, rr.Fixture))
		case rr.Fixture != cfg.Fixture.Kind:
			errs = append(errs, fmt.Errorf("reader %s needs fixture kind %s (fixture: {kind: %s} in the config)", r, rr.Fixture, rr.Fixture))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Plan{}, err
	}
	p := Plan{Config: cfg}
	for _, w := range wn {
		wr, _ := ws.Lookup(w)
		for _, r := range rn {
			rr, _ := rs.Lookup(r)
			c := Combo{Writer: wr, Reader: rr}
			if e, ok := cfg.Expected(w, r); ok {
				c.Expected = &e
			}
			p.Combos = append(p.Combos, c)
		}
	}
	return p, nil
}

// Runner races combinations of a plan.
type Runner struct {
	Plan Plan
	Pair fixtures.Pair
	// Out is the output directory; each combination runs in
	// Out/runs/<writer>_x_<reader>.
	Out string
	// ReaderCmd starts a reader child (see engine.Config.ReaderCmd).
	ReaderCmd []string
	// Repro returns the command that reruns one combination.
	Repro func(c Combo) string
}

// RunDir is where combination c runs.
func (r Runner) RunDir(c Combo) string {
	return filepath.Join(r.Out, "runs", c.Writer.Name+"_x_"+c.Reader.Name)
}

// Run races one combination and compares its verdict with the expectation.
func (r Runner) Run(ctx context.Context, c Combo) (reports.Entry, error) {
	rc := r.Plan.Config.Race
	dir := r.RunDir(c)
	if err := os.RemoveAll(dir); err != nil {
		return reports.Entry{}, fmt.Errorf("clear %s: %w", dir, err)
	}
	cfg := engine.Config{
		Writer: c.Writer, Reader: c.Reader, Pair: r.Pair, Dir: dir, ReaderCmd: r.ReaderCmd,
		Updates: rc.Updates, Running: rc.RunningReaders, Starting: rc.StartingReaders,
		Reload: rc.Reload, Gap: rc.Gap, StuckAfter: rc.StuckAfter, Seed: rc.Seed,
	}
	if rc.RunningReaders == 0 {
		cfg.Running = -1 // explicit none (the engine's zero means default)
	}
	if rc.StartingReaders == 0 {
		cfg.Starting = -1
	}
	if r.Repro != nil {
		cfg.Repro = r.Repro(c)
	}
	res, err := engine.Run(ctx, cfg)
	if err != nil {
		return reports.Entry{}, fmt.Errorf("%s: %w", c.Name(), err)
	}
	return c.Judge(res), nil
}

// Judge compares an observed result with the combination's expectation:
// met when the verdict is one it allows (or nothing is expected) and the
// writer itself did not fail.
func (c Combo) Judge(res results.Result) reports.Entry {
	e := reports.Entry{Result: res, Met: res.WriterError == ""}
	if c.Expected != nil {
		e.Expected = c.Expected.String()
		e.Met = e.Met && c.Expected.Allows(res.Verdict)
	}
	return e
}

// FixtureText describes the fixture of a plan for the report.
func FixtureText(p fixtures.Pair) string {
	if p.Own() {
		return fmt.Sprintf("your own pair: old %s (%s), new %s (%s), %d sampled IPs from the networks of both",
			p.A, humanBytes(p.SizeA), p.B, humanBytes(p.SizeB), len(p.Samples))
	}
	kind := ""
	if p.Spec.Kind != "" {
		kind = ", records of kind " + p.Spec.Kind
	}
	return fmt.Sprintf("generated pair: A %s, B %s (%s%s), universe %d /24 networks from %s",
		humanBytes(p.SizeA), humanBytes(p.SizeB), p.Spec.Shape, kind, p.Universe.Blocks, p.Universe.First)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// NewReport starts a report for a run in dir with the given seed and mode.
func NewReport(dir string, seed int64, cfgPath string, pair fixtures.Pair) reports.Report {
	run := reports.CaptureRun(dir)
	run.Seed = seed
	run.Mode = "race"
	run.Config = cfgPath
	run.Fixture = FixtureText(pair)
	return reports.Report{Schema: reports.Schema, Run: run}
}

// Finish sets the duration of a report begun at start.
func Finish(r *reports.Report, start time.Time) {
	r.Run.DurationMS = time.Since(start).Milliseconds()
}

// ShellQuote quotes s for a POSIX shell when it needs it.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=,:@+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
