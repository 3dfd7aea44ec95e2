package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mapchaos/mapchaos/engine"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/writers"
)

// Mode is how a run finds what readers meet. Adding a mode is one new type.
type Mode interface {
	// Name is the mode's word in reports and flags: "race", "step".
	Name() string
	// Writer runs the combinations of one writer (combos all share it),
	// tells r.Events as each begins and ends, and returns their entries in
	// order. It may stop early when the writer itself failed.
	Writer(ctx context.Context, r *Run, combos []Combo) ([]reports.Entry, error)
}

// Race races each combination by timing: the writer updates the target
// again and again while reader processes look up (see engine.Run).
type Race struct{}

// Name is "race".
func (Race) Name() string { return "race" }

// Writer races each combination of combos in turn; after an update of the
// writer failed it races no more of them.
func (Race) Writer(ctx context.Context, r *Run, combos []Combo) ([]reports.Entry, error) {
	var out []reports.Entry
	for _, c := range combos {
		r.begin(c)
		e, err := raceOne(ctx, r, c)
		if err != nil {
			return out, err
		}
		out = append(out, e)
		r.done(e)
		if e.WriterError != "" {
			break
		}
	}
	return out, nil
}

// raceOne races combination c in its own run directory.
func raceOne(ctx context.Context, r *Run, c Combo) (reports.Entry, error) {
	rc := r.Plan.Config.Race
	dir := r.DirOf(c)
	if err := freshDir(dir); err != nil {
		return reports.Entry{}, err
	}
	w, keep, err := logged(c.Writer, dir)
	if err != nil {
		return reports.Entry{}, err
	}
	cfg := engine.Config{
		Writer: w, Reader: c.Reader, Pair: r.Pair, Dir: dir, ReaderCmd: []string{r.Self, "reader"},
		Updates: rc.Updates, Running: none(rc.RunningReaders), Starting: none(rc.StartingReaders),
		Reload: rc.Reload, Gap: rc.Gap, StuckAfter: rc.StuckAfter, Seed: rc.Seed,
		Repro: r.reproOf(c), KeepData: r.KeepData, Install: r.install, ReaderView: r.readerView,
	}
	res, err := engine.Run(ctx, cfg)
	keep()
	if rerr := r.release(filepath.Join(dir, "data")); err == nil {
		err = rerr
	}
	switch {
	case errors.Is(err, engine.ErrBadReader):
		return reports.Entry{}, badInput(err) // a --reader-cmd that never starts properly
	case err != nil:
		return reports.Entry{}, fmt.Errorf("%s: %w", c.Name(), err)
	}
	return c.Judge(res), nil
}

// none turns a configured count of 0 into the engine's "explicitly none".
func none(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// logged sends the output of the user's updater to writer.log in dir: it
// is written beside dir while the engine runs (the engine wants dir
// empty), and moved in by keep.
func logged(s writers.Strategy, dir string) (writers.Strategy, func(), error) {
	x, ok := s.Writer.(writers.Exec)
	if !ok || x.Output != nil {
		return s, func() {}, nil
	}
	f, err := os.Create(dir + ".writer.log")
	if err != nil {
		return s, nil, fmt.Errorf("updater log: %w", err)
	}
	x.Output = f
	s.Writer = x
	return s, func() {
		if f.Close() != nil || os.Rename(f.Name(), filepath.Join(dir, "writer.log")) != nil {
			os.Remove(f.Name())
		}
	}, nil
}

// readersOf lists the readers of combos.
func readersOf(combos []Combo) []readers.Registration {
	out := make([]readers.Registration, len(combos))
	for i, c := range combos {
		out[i] = c.Reader
	}
	return out
}
