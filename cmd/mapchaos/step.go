package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mapchaos/mapchaos/config"
	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/matrix"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/step"
	"github.com/mapchaos/mapchaos/writers"
)

// stepRunner steps one update (step.Run; a fake in specs).
type stepRunner func(context.Context, step.Config) (*step.Sequence, error)

// stepOptions are the step-mode settings beyond matrixFlags.
type stepOptions struct {
	// everyWrite probes after every data write (--probe-every-write).
	everyWrite bool
	// updates is the number of stepped updates per writer: A->B, then B->A.
	updates int
}

// stepOptionsFrom derives the step settings from the matrix flags: two
// updates (A->B shrinks or grows the file, B->A does the opposite), or one
// with --updates 1.
func stepOptionsFrom(f matrixFlags) stepOptions {
	o := stepOptions{updates: 2, everyWrite: f.probeEveryWrite}
	if f.updates == 1 {
		o.updates = 1
	}
	return o
}

// matrixStep runs the matrix in step mode: each writer runs as its own
// process (`mapchaos writer ...`) under ptrace, stopped after every system
// call that changes the target or its directory; every reader of the plan
// is probed at each stop, and the writer is killed after each step in
// fresh runs. Where ptrace is not allowed it falls back to race mode and
// says so in the report.
func (a *app) matrixStep(ctx context.Context, f matrixFlags, cfg config.Config, plan matrix.Plan, pair fixtures.Pair) (int, error) {
	return a.matrixStepWith(ctx, f, cfg, plan, pair, stepOptionsFrom(f), step.Run)
}

func (a *app) matrixStepWith(ctx context.Context, f matrixFlags, cfg config.Config, plan matrix.Plan, pair fixtures.Pair, opt stepOptions, run stepRunner) (int, error) {
	start := time.Now()
	if err := step.Available(); err != nil {
		return a.matrixStepFallback(ctx, f, cfg, plan, pair, start, err)
	}
	oracle, err := oracleFor(pair)
	if err != nil {
		return 0, err
	}
	rep := matrix.NewReport(f.out, cfg.Race.Seed, cfg.Path, pair)
	rep.Run.Mode = "step"
	n := len(plan.Combos)
	fmt.Fprintf(a.stdout, "stepping %d combinations: %d update(s) per writer under ptrace, every reader probed at every step, seed %d\n",
		n, opt.updates, cfg.Race.Seed)
	done := 0
	for _, w := range planWriters(plan) {
		combos := combosOf(plan, w.Name)
		var regs []readers.Registration
		for _, c := range combos {
			regs = append(regs, c.Reader)
		}
		ups, err := a.stepWriter(ctx, f, cfg, pair, oracle, w, regs, opt, run)
		if errors.Is(err, step.ErrNotPermitted) && done == 0 {
			return a.matrixStepFallback(ctx, f, cfg, plan, pair, start, err)
		}
		if err != nil {
			return 0, fmt.Errorf("step %s: %w", w.Name, err)
		}
		for _, c := range combos {
			e := c.Judge(step.Result(w.Name, c.Reader.Name, ups, stepRepro(f, cfg, c)))
			rep.Results = append(rep.Results, e)
			done++
			io.WriteString(a.stdout, progressLine(done, n, e, time.Since(start)))
		}
	}
	matrix.Finish(&rep, start)
	if err := writeStepReport(f.out, rep); err != nil {
		return 0, err
	}
	return a.conclude(rep, f.out, "also report.md with the step sequences, report.html, junit.xml", start), nil
}

// stepWriter steps the updates of writer w, probing regs, and prints each
// sequence.
func (a *app) stepWriter(ctx context.Context, f matrixFlags, cfg config.Config, pair fixtures.Pair, oracle fixtures.Oracle,
	w writers.Strategy, regs []readers.Registration, opt stepOptions, run stepRunner) ([]step.Update, error) {
	dir := filepath.Join(f.out, "runs", w.Name+"_step")
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("clear %s: %w", dir, err)
	}
	verA, verB := filepath.Join(dir, "versions", "A.mmdb"), filepath.Join(dir, "versions", "B.mmdb")
	for src, dst := range map[string]string{pair.A: verA, pair.B: verB} {
		if err := fixtures.CopyReadOnly(src, dst); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	target := filepath.Join(data, "db.mmdb")
	var ups []step.Update
	for u := 1; u <= opt.updates; u++ {
		old, nw, label, src := verA, verB, "A->B", verB
		if u%2 == 0 {
			old, nw, label, src = verB, verA, "B->A", verA
		}
		prepare := func(ctx context.Context) error {
			// The target as the earlier updates left it, applied by the
			// same writer in process.
			if err := os.RemoveAll(data); err != nil {
				return err
			}
			if err := os.MkdirAll(data, 0o755); err != nil {
				return err
			}
			if err := writers.Install(target, verA, w.Properties); err != nil {
				return err
			}
			for i := 1; i < u; i++ {
				s := verB
				if i%2 == 0 {
					s = verA
				}
				if err := w.Writer.Update(ctx, writers.Update{Target: target, Source: s, Seq: i}); err != nil {
					return fmt.Errorf("update %d before the stepped one: %w", i, err)
				}
			}
			return nil
		}
		oldName, newName := "A", "B"
		if u%2 == 0 {
			oldName, newName = "B", "A"
		}
		seq, err := run(ctx, step.Config{
			Argv:    append([]string{a.self, "writer"}, step.WriterArgs(w.Name, src, target, u)...),
			Wrapper: []string{a.self, "writer", wrapFlag},
			Target:  target, Old: old, New: nw, OldName: oldName, NewName: newName,
			Prepare: prepare, Readers: regs, Oracle: oracle, Seed: cfg.Race.Seed,
			ProbeEveryWrite: opt.everyWrite,
		})
		if err != nil {
			return nil, fmt.Errorf("update %s: %w", label, err)
		}
		a.printSequence(w.Name, label, seq)
		ups = append(ups, step.Update{Label: label, Seq: seq})
	}
	if err := os.RemoveAll(filepath.Join(dir, "data")); err != nil {
		return nil, err
	}
	return ups, os.RemoveAll(filepath.Join(dir, "versions"))
}

// printSequence prints one stepped update: its states and kill points.
func (a *app) printSequence(writer, label string, s *step.Sequence) {
	broken := 0
	for _, k := range s.Kills {
		if k.Broken() {
			broken++
		}
	}
	fmt.Fprintf(a.stdout, "\n%s %s: %s; %d calls, %d states, %d of %d kill points broken (%d ptrace stops, %d probes, %s)\n",
		writer, label, s.Exit, len(s.Calls), len(s.States), broken, len(s.Kills), s.Stops, s.Probes, s.Duration.Round(time.Millisecond))
	for _, l := range s.Lines() {
		fmt.Fprintln(a.stdout, "  "+l)
	}
	for _, w := range s.Warnings {
		fmt.Fprintln(a.stdout, "  warning: "+w)
	}
}

// matrixStepFallback races the matrix by timing because stepping is not
// possible here, and says so on stderr and in the report.
func (a *app) matrixStepFallback(ctx context.Context, f matrixFlags, cfg config.Config, plan matrix.Plan, pair fixtures.Pair, start time.Time, why error) (int, error) {
	warning := fallbackWarning(why)
	fmt.Fprintf(a.stderr, "mapchaos matrix: warning: %s\n", warning)
	rep := matrix.NewReport(f.out, cfg.Race.Seed, cfg.Path, pair)
	rep.Run.Mode, rep.Run.Requested = "race", "step"
	rep.Run.Warnings = append(rep.Run.Warnings, warning)
	fmt.Fprintln(a.stdout, "step mode is not possible here: racing by timing instead")
	return a.raceMatrix(ctx, f, cfg, plan, pair, rep, start)
}

// fallbackWarning says plainly why step mode was not used.
func fallbackWarning(why error) string {
	return fmt.Sprintf("--mode step needs ptrace, which this machine does not allow (%v): raced by timing instead, which can miss narrow windows", why)
}

// writeStepReport writes the report files, with the step sequences
// appended to report.md (rewritten atomically).
func writeStepReport(dir string, rep reports.Report) error {
	if err := reports.WriteAll(dir, rep); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	md := reports.Markdown(rep)
	if sec := step.Markdown(rep); sec != "" {
		md += "\n" + sec
	}
	return writeFileAtomic(filepath.Join(dir, reports.MarkdownFile), []byte(md))
}

// writeFileAtomic replaces path with data through a temporary file in the
// same directory.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// oracleFor returns what judges the readers' answers for pair.
func oracleFor(pair fixtures.Pair) (fixtures.Oracle, error) {
	if !pair.Own() {
		return pair.Universe, nil
	}
	p, err := fixtures.OpenPristine(pair.A, pair.B, pair.Samples)
	if err != nil {
		return nil, fmt.Errorf("fixture: %w", err)
	}
	return p, nil
}

// planWriters lists the writers of plan in order, once each.
func planWriters(plan matrix.Plan) []writers.Strategy {
	var out []writers.Strategy
	seen := map[string]bool{}
	for _, c := range plan.Combos {
		if !seen[c.Writer.Name] {
			seen[c.Writer.Name] = true
			out = append(out, c.Writer)
		}
	}
	return out
}

// combosOf lists the combinations of writer w.
func combosOf(plan matrix.Plan, w string) []matrix.Combo {
	var out []matrix.Combo
	for _, c := range plan.Combos {
		if c.Writer.Name == w {
			out = append(out, c)
		}
	}
	return out
}

// stepRepro is the command that steps one combination again.
func stepRepro(f matrixFlags, cfg config.Config, c matrix.Combo) string {
	r := reproCommand(f, cfg, c)
	r = strings.Replace(r, "mapchaos matrix", "mapchaos matrix --mode step", 1)
	if f.updates > 0 && f.updates != 1 {
		// --updates means nothing to step mode but 1 or not 1.
		r = strings.Replace(r, " --updates "+strconv.FormatInt(f.updates, 10), "", 1)
	}
	return r
}
