package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/mapchaos/mapchaos/config"
	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/powerloss"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/step"
	"github.com/mapchaos/mapchaos/verdicts"
	"github.com/mapchaos/mapchaos/writers"
)

// PowerLoss traces each update of each writer once under ptrace (as Step
// does, recording the watched directories after every call, fsyncs
// included), enumerates the states a power loss may leave under a
// persistence model (package powerloss), builds each in a fresh directory
// and opens it with a restarted reader of every strategy of the plan. A
// combination is unsafe when any state leaves its reader without a right
// answer: a reader that cannot open a valid database after a power cut
// means a service that does not come back (its word stays degraded).
type PowerLoss struct {
	// Model is "posix" (default) or "ext4-ordered".
	Model string
	// Updates is 2 (A->B, then B->A) or 1.
	Updates int
	// States bounds the distinct states opened per update (default 64);
	// beyond it they are drawn from the seed.
	States int
	// Timeout bounds each run of the user's updater (0: step's default).
	Timeout time.Duration
	// Trace traces one update (default step.Run).
	Trace func(context.Context, step.Config) (*step.Sequence, error)
	// Kernel also runs each update on KernelFS over dm-log-writes (the
	// update's directory lives there) and checks every state a replay of
	// the kernel's log leaves against the file system's model (Model must
	// be it: ext4-ordered for ext4, posix for xfs), opening each with the
	// restarted readers. Needs root, dmsetup and the dm_log_writes module:
	// the CLI runs it in the amd64 guest.
	Kernel bool
	// KernelFS is "ext4" (the default) or "xfs".
	KernelFS string
	// State is the state directory of the kernel check's mounts.Set
	// ("": mounts.DefaultStateDir), where the next run finds what a
	// killed one left (its loop devices, dm-log-writes target, mounts).
	State string
}

// kernelFS is the file system of the kernel check.
func (p PowerLoss) kernelFS() string {
	if p.KernelFS == "" {
		return "ext4"
	}
	return p.KernelFS
}

// KernelModel names the model the kernel check on file system fs checks
// against: ext4-ordered for ext4 (the model is ext4's), posix for xfs (no
// model of xfs's own: the kernel's states must at least be POSIX's).
func KernelModel(fs string) (string, error) {
	switch fs {
	case "", "ext4":
		return "ext4-ordered", nil
	case "xfs":
		return "posix", nil
	}
	return "", fmt.Errorf("the kernel check runs on ext4 or xfs over dm-log-writes, not on %s", fs)
}

// DefaultStates is the default bound of states per update.
const DefaultStates = 64

// Name is "power-loss".
func (PowerLoss) Name() string { return "power-loss" }

// model resolves the model's name.
func (p PowerLoss) model() (powerloss.Model, error) {
	name := p.Model
	if p.Kernel {
		want, err := KernelModel(p.KernelFS)
		if err != nil {
			return nil, badInput(fmt.Errorf("--kernel-check: %w", err))
		}
		if name != "" && name != want {
			return nil, Badf("--kernel-check on %s checks the %s model, not %s: drop --model or say --model %s", p.kernelFS(), want, name, want)
		}
		name = want
	}
	if name == "" {
		return powerloss.Posix{}, nil
	}
	m, err := powerloss.ModelNamed(name)
	if err != nil {
		return nil, badInput(fmt.Errorf("--model: %w", err))
	}
	return m, nil
}

// Writer traces the updates of the writer of combos once, judges every
// crash state with every reader of combos, and judges each combination.
func (p PowerLoss) Writer(ctx context.Context, r *Run, combos []Combo) ([]reports.Entry, error) {
	m, err := p.model()
	if err != nil {
		return nil, err
	}
	w := combos[0].Writer
	ups, err := p.updates(ctx, r, m, w, readersOf(combos))
	if err != nil {
		return nil, err
	}
	var out []reports.Entry
	for i, c := range combos {
		r.begin(c)
		e := c.Judge(powerloss.Result(w.Name, c.Reader.Name, i, m.Name(), ups, r.reproOf(c)))
		if !forPowerLoss(c.Expected) {
			// After a power cut only whole versions let the service come
			// back: ginkgo.yml's unscoped expectations are for live
			// updates, not for this; one scoped to mode power-loss says
			// what a power cut is known to leave (its degraded: down).
			e.Expected = "whole A or B after any crash"
			e.Met = e.WriterError == "" && e.Verdict == verdicts.Safe
		}
		if p.Kernel {
			e.Expected += fmt.Sprintf("; every state of the kernel's log (%s) in the %s model", p.kernelFS(), m.Name())
			e.Met = e.Met && e.PowerLoss.Missed == nil
		}
		out = append(out, e)
		r.done(e)
	}
	return out, nil
}

// forPowerLoss reports whether e is an expectation written for power-loss
// mode (mode: power-loss in ginkgo.yml).
func forPowerLoss(e *config.Expectation) bool {
	return e != nil && slices.Contains(e.Modes, "power-loss")
}

// updates traces and judges each update of writer w in Out/runs/<writer>_power-loss.
func (p PowerLoss) updates(ctx context.Context, r *Run, m powerloss.Model, w writers.Strategy, regs []readers.Registration) ([]powerloss.Update, error) {
	u, orc, dir, err := layOut(r, w, "_power-loss")
	if err != nil {
		return nil, err
	}
	var ups []powerloss.Update
	for seq := 1; seq <= max(p.Updates, 1); seq++ {
		up, err := p.one(ctx, r, m, u, seq, regs, orc, filepath.Join(dir, "states"))
		if err != nil {
			return nil, err
		}
		ups = append(ups, up)
	}
	if r.KeepData {
		return ups, nil
	}
	return ups, os.RemoveAll(dir)
}

// one traces update seq, explores its crash states under m and opens each
// with every reader; with Kernel, the update runs on KernelFS over
// dm-log-writes and the kernel's states are checked too.
func (p PowerLoss) one(ctx context.Context, r *Run, m powerloss.Model, u stepping, seq int, regs []readers.Registration, orc fixtures.Oracle, root string) (up powerloss.Update, err error) {
	began := time.Now()
	var kr *kernelRun
	if p.Kernel {
		if kr, err = startKernel(ctx, r, p.State, filepath.Join(filepath.Dir(root), fmt.Sprintf("kernel-%d", seq)), p.kernelFS(), u, seq); err != nil {
			return up, err
		}
		defer func() { err = errors.Join(err, kr.close()) }()
		u.data = filepath.Join(kr.mnt, "data")
	}
	cfg, err := u.config(seq)
	if err != nil {
		return up, err
	}
	if kr != nil {
		kr.wrap(&cfg)
	}
	rec, err := powerloss.NewRecorder(cfg.Target, cfg.Old, cfg.New)
	if err != nil {
		return up, err
	}
	cfg.OnCall, cfg.NoKills, cfg.Timeout = rec.OnCall, true, p.Timeout
	cfg.Seed = r.Plan.Config.Race.Seed
	trace := p.Trace
	if trace == nil {
		trace = step.Run
	}
	seqn, err := trace(ctx, cfg)
	if errors.Is(err, step.ErrNotPermitted) {
		// No falling back to racing: a race says nothing about a power cut.
		return up, fmt.Errorf("--mode power-loss traces the updater under ptrace, which this machine does not allow: %v", err)
	}
	if err != nil {
		return up, fmt.Errorf("power-loss %s, update %s: %w", u.w.Name, u.label(seq), err)
	}
	for _, pt := range rec.Points {
		if pt.Err != "" {
			seqn.Warnings = append(seqn.Warnings, fmt.Sprintf("the directory after #%d could not be recorded whole: %s", pt.N, pt.Err))
		}
	}
	r.Events.Stepped(u.w.Name, u.label(seq), seqn)
	up, err = p.judge(ctx, r, m, u, seq, cfg, powerloss.NewTrace(rec), regs, orc, root, kr)
	up.Seq, up.Duration = seqn, time.Since(began)
	return up, err
}

// judge explores the crash states of trace t under m and opens each with
// every reader; with kr, it replays the kernel's log too.
func (p PowerLoss) judge(ctx context.Context, r *Run, m powerloss.Model, u stepping, seq int, cfg step.Config, t *powerloss.Trace, regs []readers.Registration, orc fixtures.Oracle, root string, kr *kernelRun) (powerloss.Update, error) {
	budget := p.States
	if budget <= 0 {
		budget = DefaultStates
	}
	ex, err := powerloss.Explore(ctx, t, m, budget, cfg.Seed+int64(seq))
	if err != nil {
		return powerloss.Update{}, err
	}
	open := func(target string) (*step.Restarter, error) {
		return step.NewRestarter(step.RestartConfig{Target: target, Old: cfg.Old, New: cfg.New,
			OldName: cfg.OldName, NewName: cfg.NewName, Readers: regs, Oracle: orc, Seed: cfg.Seed})
	}
	// Two states at a time keep both cores busy: building a state and
	// summing it are serial, its readers' lookups are not.
	workers := min(runtime.GOMAXPROCS(0), 2)
	states, err := powerloss.Judge(ctx, t, ex, root, filepath.Base(cfg.Target), open, workers, r.KeepData)
	if errors.Is(err, readers.ErrBadForeign) {
		return powerloss.Update{}, badInput(fmt.Errorf("--reader-cmd: %w", err))
	}
	if err != nil {
		return powerloss.Update{}, fmt.Errorf("power-loss %s, update %s: %w", u.w.Name, u.label(seq), err)
	}
	if err := servesBefore(states, regs); err != nil {
		return powerloss.Update{}, err
	}
	up := powerloss.Update{Label: u.label(seq), Explored: ex, States: states}
	if kr != nil {
		r.Events.Note(fmt.Sprintf("kernel check %s, update %s: replaying the dm-log-writes log", u.w.Name, u.label(seq)))
		if up.Kernel, err = kr.check(ctx, t, m, ex, states, filepath.Base(cfg.Target), open, cfg.Seed+int64(seq), r.KeepData); err != nil {
			return up, fmt.Errorf("power-loss %s, update %s: %w", u.w.Name, u.label(seq), err)
		}
		r.Events.Note(kernelNoteOf(u.w.Name, up))
	}
	return up, nil
}

// servesBefore checks that every reader serves from the state before the
// update (the first explored state: nothing changed yet). One that does
// not is broken, not a victim of the power loss: a foreign reader that
// never says ready is bad input.
func servesBefore(states []powerloss.Judged, regs []readers.Registration) error {
	if len(states) == 0 || states[0].After != 0 {
		return fmt.Errorf("power-loss: the state before the update was not opened")
	}
	for i, o := range states[0].Readers {
		if o.Starting.Verdict == verdicts.Safe {
			continue
		}
		err := fmt.Errorf("reader %s cannot serve from the target before the update (%s): %s", o.Reader, states[0].OnDisk, o.Starting.Detail)
		if len(regs[i].Command) > 0 {
			return badInput(fmt.Errorf("--reader-cmd: %w", err))
		}
		return err
	}
	return nil
}
