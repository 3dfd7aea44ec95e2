package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/step"
	"github.com/mapchaos/mapchaos/writers"
)

// Step steps each writer as a process of its own under ptrace (step.Run):
// stopped after every system call that changes the target, every reader of
// the plan probed at each stop, and killed after each step in fresh runs.
// Its verdicts are the same on every run.
type Step struct {
	// Updates is 2 (A->B, then B->A: the file shrinks, then grows) or 1.
	Updates int
	// EveryWrite probes after every data write, not only at
	// exponentially spaced ones.
	EveryWrite bool
	// Timeout bounds each run of the user's updater (0: step's default).
	Timeout time.Duration
	// Trace steps one update (default step.Run).
	Trace func(context.Context, step.Config) (*step.Sequence, error)
}

// Name is "step".
func (Step) Name() string { return "step" }

// Available says why stepping is not possible here (ptrace refused), or
// nil: then a run falls back to racing.
func (Step) Available() error { return step.Available() }

// Writer steps the updates of the writer of combos once, probing every
// reader of combos, and judges each combination from the sequences.
func (s Step) Writer(ctx context.Context, r *Run, combos []Combo) ([]reports.Entry, error) {
	w := combos[0].Writer
	ups, err := s.updates(ctx, r, w, readersOf(combos))
	if err != nil {
		return nil, err
	}
	var out []reports.Entry
	for _, c := range combos {
		r.begin(c)
		e := c.Judge(step.Result(w.Name, c.Reader.Name, ups, r.reproOf(c)))
		out = append(out, e)
		r.done(e)
	}
	return out, nil
}

// updates steps each update of writer w in Out/runs/<writer>_step.
func (s Step) updates(ctx context.Context, r *Run, w writers.Strategy, regs []readers.Registration) ([]step.Update, error) {
	u, orc, dir, err := layOut(r, w, "_step")
	if err != nil {
		return nil, err
	}
	_, t := r.layer.(templater)
	u.templates = r.layer == nil || t
	var ups []step.Update
	for seq := 1; seq <= max(s.Updates, 1); seq++ {
		cfg, err := u.config(seq)
		if err != nil {
			return nil, err
		}
		cfg.Readers, cfg.Oracle, cfg.Seed = regs, orc, r.Plan.Config.Race.Seed
		cfg.ProbeEveryWrite, cfg.Timeout = s.EveryWrite, s.Timeout
		cfg.ReaderTarget = r.readerView(cfg.Target)
		if r.cold != nil { // cold pages: evicted after every probe, so that the next one reads them again
			cfg.OnCall = func(*step.Call) { r.cold() }
		}
		seqn, err := s.trace()(ctx, cfg)
		if err != nil && ctx.Err() != nil { // what failed after an interrupt is the interrupt
			return nil, fmt.Errorf("step %s, update %s: %w", w.Name, u.label(seq), ctx.Err())
		}
		if errors.Is(err, readers.ErrBadForeign) {
			return nil, badInput(fmt.Errorf("--reader-cmd: %w", err))
		}
		if err != nil {
			return nil, fmt.Errorf("step %s, update %s: %w", w.Name, u.label(seq), err)
		}
		r.Events.Stepped(w.Name, u.label(seq), seqn)
		ups = append(ups, step.Update{Label: u.label(seq), Seq: seqn})
		if seqn.ExitCode != 0 || seqn.Failure != "" {
			break // a failed updater: the next update cannot start from its state
		}
	}
	if err := r.release(u.data); err != nil {
		return nil, err
	}
	return ups, os.RemoveAll(dir)
}

func (s Step) trace() func(context.Context, step.Config) (*step.Sequence, error) {
	if s.Trace != nil {
		return s.Trace
	}
	return step.Run
}

// layOut makes the run directory Out/runs/<writer><suffix> of writer w
// (it must be new or empty) with read-only copies of both versions, and
// returns the updates laid out there, the oracle of the pair, and the
// directory.
func layOut(r *Run, w writers.Strategy, suffix string) (stepping, fixtures.Oracle, string, error) {
	orc, err := oracle(r.Pair)
	if err != nil {
		return stepping{}, nil, "", err
	}
	dir := filepath.Join(r.Out, "runs", w.Name+suffix)
	if err := freshDir(dir); err != nil {
		return stepping{}, nil, "", err
	}
	vers := [2]string{filepath.Join(dir, "versions", "A.mmdb"), filepath.Join(dir, "versions", "B.mmdb")}
	for i, src := range []string{r.Pair.A, r.Pair.B} {
		if err := fixtures.CopyReadOnly(src, vers[i]); err != nil {
			return stepping{}, nil, "", err
		}
	}
	return stepping{r: r, w: w, data: filepath.Join(dir, "data"), vers: vers}, orc, dir, nil
}

// stepping is one writer's updates laid out for step mode: A is vers[0],
// B vers[1]; update seq goes from A to B when seq is odd.
type stepping struct {
	r    *Run
	w    writers.Strategy
	data string
	vers [2]string
	// templates: keep a copy of each update's initial state for the kill
	// runs (see prepare). Not on an overlay, whose A must be in the lower
	// layer at every run, nor where Prepare runs once (power-loss mode);
	// on NFS, on the server's side (templater).
	templates bool
}

func (u stepping) target() string { return filepath.Join(u.data, "db.mmdb") }

// source is the version update seq installs.
func (u stepping) source(seq int) string { return u.vers[seq%2] }

func (u stepping) label(seq int) string {
	if seq%2 == 1 {
		return "A->B"
	}
	return "B->A"
}

// config is the step configuration of update seq: the writer's command,
// and a Prepare that lays out the target as the earlier updates left it.
func (u stepping) config(seq int) (step.Config, error) {
	old, nw, oldName, newName := u.vers[0], u.vers[1], "A", "B"
	if seq%2 == 0 {
		old, nw, oldName, newName = u.vers[1], u.vers[0], "B", "A"
	}
	cfg := step.Config{Target: u.target(), Old: old, New: nw, OldName: oldName, NewName: newName,
		Wrapper: []string{u.r.Self, "trace-wrap"}, Prepare: func(ctx context.Context) error { return u.prepare(ctx, seq) }}
	x, own := u.w.Writer.(writers.Exec)
	if !own {
		cfg.Argv = append([]string{u.r.Self, "writer"}, step.WriterArgs(u.w.Name, u.source(seq), u.target(), seq)...)
		return cfg, nil
	}
	p, err := x.Prepare(u.source(seq), u.target(), seq)
	if err != nil {
		return cfg, err
	}
	cfg.Argv, cfg.Env, cfg.Check = p.Argv, p.Env, p.Finish
	return cfg, nil
}

// prepare lays out the target before update seq: A installed, then the
// earlier updates applied by the same writer, untraced; for the user's
// updater, a fresh {new} for this one. With u.templates, the first call
// (the stepped run) keeps a copy of that layout in templates/<seq>
// (writers.CopyTree: no hard link, so a writer that changes the target in
// place leaves the copy as it was), and every later call (the kill runs)
// restores the data directory from it (restore): the same names, bytes,
// modes, modification times and links, without copying A, fsyncing it and
// replaying the earlier updates again.
func (u stepping) prepare(ctx context.Context, seq int) error {
	if err := u.r.release(u.data); err != nil {
		return err
	}
	if err := os.RemoveAll(u.data); err != nil {
		return err
	}
	tmpl := filepath.Join(filepath.Dir(u.data), "templates", strconv.Itoa(seq))
	if u.templates {
		if _, err := os.Lstat(tmpl); err == nil {
			return u.restore(ctx, tmpl)
		}
	}
	if err := u.layOutAnew(ctx, seq); err != nil {
		return err
	}
	if u.templates {
		if err := u.keep(tmpl); err != nil {
			return err
		}
	}
	return u.r.settle(ctx, u.target())
}

// restore lays out the data directory as the copy tmpl holds. A built-in
// writer that keeps every file it finds (writers.Properties.KeepsFiles, a
// promise its spec checks) gets hard links to the copy's files instead of
// copies. On a layer with a side of its own (an NFS server's export) the
// layer restores there: never hard links, which would keep a replaced
// file alive on a server that frees it otherwise.
func (u stepping) restore(ctx context.Context, tmpl string) error {
	if t, ok := u.r.layer.(templater); ok {
		return t.restore(ctx, tmpl, u.target())
	}
	if u.w.KeepsFiles {
		return writers.LinkTree(u.data, tmpl)
	}
	return writers.CopyTree(u.data, tmpl)
}

// keep copies the data directory, just laid out, to tmpl: from the
// layer's own side when it has one.
func (u stepping) keep(tmpl string) error {
	if err := os.MkdirAll(filepath.Dir(tmpl), 0o755); err != nil {
		return fmt.Errorf("step mode's copy of the initial state: %w", err)
	}
	src := u.data
	if t, ok := u.r.layer.(templater); ok {
		src = t.serverDir(u.data)
	}
	if err := writers.CopyTree(tmpl, src); err != nil {
		os.RemoveAll(tmpl)
		return fmt.Errorf("step mode's copy of the initial state: %w", err)
	}
	return nil
}

// layOutAnew lays out the data directory before update seq from A.
func (u stepping) layOutAnew(ctx context.Context, seq int) error {
	if err := os.MkdirAll(u.data, 0o755); err != nil {
		return err
	}
	install := u.r.install
	if u.templates && u.r.layer == nil { // step mode on this machine: A need not be durable
		install = writers.InstallUnsynced
	}
	if err := install(u.target(), u.vers[0], u.w.Properties); err != nil {
		return err
	}
	for i := 1; i < seq; i++ {
		if err := u.w.Writer.Update(ctx, writers.Update{Target: u.target(), Source: u.source(i), Seq: i}); err != nil {
			return fmt.Errorf("update %d, before the stepped one: %w", i, err)
		}
	}
	if x, own := u.w.Writer.(writers.Exec); own {
		p, err := x.Prepare(u.source(seq), u.target(), seq)
		if err != nil {
			return err
		}
		return p.Place()
	}
	return nil
}
