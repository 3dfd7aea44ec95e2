package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/matrix"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/step"
	"github.com/mapchaos/mapchaos/writers"
)

// checkStep steps the user's updater under ptrace: two updates (A->B, then
// B->A), each a real run of the command stopped after every system call
// that changes the target or its directory, with every chosen reader
// probed at each stop and the command killed after each step in fresh
// runs. The verdicts gate the pipeline as in race mode.
func (a *app) checkStep(ctx context.Context, f checkFlags, pair fixtures.Pair, regs []readers.Registration, rep reports.Report, start time.Time) (int, error) {
	oracle, err := oracleFor(pair)
	if err != nil {
		return 0, err
	}
	rep.Run.Mode = "step"
	exe := f.exec(nil)
	props := writers.Properties{SymlinkTarget: f.targetKind == "symlink"}
	dir := filepath.Join(f.out, "runs", "exec_step")
	verA, verB := filepath.Join(dir, "versions", "A.mmdb"), filepath.Join(dir, "versions", "B.mmdb")
	for src, dst := range map[string]string{pair.A: verA, pair.B: verB} {
		if err := fixtures.CopyReadOnly(src, dst); err != nil {
			return 0, err
		}
	}
	data := filepath.Join(dir, "data")
	target := filepath.Join(data, "db.mmdb")
	fmt.Fprintf(a.stdout, "stepping the updater under ptrace: 2 updates, %d reader(s) probed at every step, seed %d\n", len(regs), f.seed)
	var ups []step.Update
	for u := 1; u <= 2; u++ {
		old, nw, label, src, oldName, newName := verA, verB, "A->B", verB, "A", "B"
		if u == 2 {
			old, nw, label, src, oldName, newName = verB, verA, "B->A", verA, "B", "A"
		}
		prepare := func(ctx context.Context) error {
			// The target as the earlier update left it (the same command,
			// run untraced), and a fresh {new} for this one.
			if err := os.RemoveAll(data); err != nil {
				return err
			}
			if err := os.MkdirAll(data, 0o755); err != nil {
				return err
			}
			if err := writers.Install(target, verA, props); err != nil {
				return err
			}
			if u == 2 {
				if err := exe.Update(ctx, writers.Update{Target: target, Source: verB, Seq: 1}); err != nil {
					return fmt.Errorf("update 1, before the stepped one: %w", err)
				}
			}
			_, err := exe.PlaceNew(src, target, u)
			return err
		}
		argv, _ := exe.Expand(target, u)
		seq, err := step.Run(ctx, step.Config{
			Argv: argv, Wrapper: []string{a.self, "trace-wrap"},
			Target: target, Old: old, New: nw, OldName: oldName, NewName: newName,
			Prepare: prepare, Readers: regs, Oracle: oracle, Seed: f.seed,
			Env: append(os.Environ(), exe.UpdateEnv(target, u)...), Timeout: f.timeout,
		})
		if errors.Is(err, readers.ErrBadForeign) {
			// A --reader-cmd that never starts properly is bad input.
			return 0, usageError{fmt.Errorf("--reader-cmd: %w", err)}
		}
		if err != nil {
			return 0, fmt.Errorf("step update %s: %w", label, err)
		}
		a.printSequence("exec", label, seq)
		ups = append(ups, step.Update{Label: label, Seq: seq})
	}
	if err := os.RemoveAll(data); err != nil {
		return 0, err
	}
	if err := os.RemoveAll(filepath.Join(dir, "versions")); err != nil {
		return 0, err
	}
	for i, r := range regs {
		e := matrix.Combo{Reader: r, Expected: &checkGate}.Judge(step.Result("exec", r.Name, ups, checkRepro(f, r)))
		rep.Results = append(rep.Results, e)
		printCheckProgress(a.stdout, i+1, len(regs), e, time.Since(start))
	}
	matrix.Finish(&rep, start)
	if err := writeStepReport(f.out, rep); err != nil {
		return 0, err
	}
	fmt.Fprintln(a.stdout)
	printCheckSummary(a.stdout, rep)
	fmt.Fprintf(a.stdout, "\nreport: %s (also report.md with the step sequences, report.html, junit.xml)\n", filepath.Join(f.out, reports.JSONFile))
	return checkVerdict(a.stdout, rep, nil, f.out, time.Since(start)), nil
}
