package powerloss

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mapchaos/mapchaos/step"
)

// Judged is one explored state, as a restarted reader of every strategy
// found it.
type Judged struct {
	Recipe
	// After is the number (#N) of the call the power was lost after (0:
	// before the update), Call that call with its result.
	After int
	Call  string
	// Name is missing, empty, zero-filled, partial, torn, whole A or
	// whole B; OnDisk says it in full.
	Name, OnDisk string
	// Lost says what did not reach the disk.
	Lost      string
	Leftovers []string
	// Readers are the outcomes of the restarted readers, in the order of
	// the Restarter's readers (Starting holds each).
	Readers []step.ReaderOutcome
}

// StateTarget is where a state's target lies under root, the directory
// a Judge worker lays its states out in.
func StateTarget(root, base string) string { return filepath.Join(root, "s", "t", base) }

// Opener makes the Restarter of a worker whose states have their target
// at target (step.NewRestarter with step.RestartConfig.Target set to it).
type Opener func(target string) (*step.Restarter, error)

// Judge builds each state of ex in a fresh directory, opens it with every
// reader of a Restarter and names it. workers judge side by side, each in
// its own directory under root with its own Restarter (from open); the
// states come back in the order of ex, the same whatever the number of
// workers. base is the target's name in its directory. A state's
// directory is removed once judged, or kept as root/state-N with keep.
func Judge(ctx context.Context, t *Trace, ex Explored, root, base string, open Opener, workers int, keep bool) ([]Judged, error) {
	out := make([]Judged, len(ex.States))
	jobs := make(chan int)
	errs := make([]error, max(workers, 1))
	var wg sync.WaitGroup
	for w := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = t.worker(ctx, ex, filepath.Join(root, fmt.Sprintf("w%d", w)), base, open, keep, jobs, out)
		}()
	}
feed:
	for i := range ex.States {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, ctx.Err()
}

// worker judges the states whose indexes come on jobs into out, in dir.
// After an error it only drains jobs, and returns the error.
func (t *Trace) worker(ctx context.Context, ex Explored, dir, base string, open Opener, keep bool, jobs <-chan int, out []Judged) error {
	rs, err := open(StateTarget(dir, base))
	var failed error
	if err != nil {
		failed = err
	} else {
		defer rs.Close()
	}
	for i := range jobs {
		if failed != nil || ctx.Err() != nil {
			continue
		}
		out[i], failed = t.judgeOne(ex.States[i], dir, base, rs)
		if failed == nil && keep {
			failed = os.Rename(filepath.Join(dir, "s"), filepath.Join(filepath.Dir(dir), fmt.Sprintf("state-%d", i+1)))
		}
	}
	if failed != nil {
		return failed
	}
	return os.RemoveAll(dir)
}

// judgeOne builds state r in dir and opens it with every reader of rs.
func (t *Trace) judgeOne(r Recipe, dir, base string, rs *step.Restarter) (Judged, error) {
	if err := os.RemoveAll(filepath.Join(dir, "s")); err != nil {
		return Judged{}, fmt.Errorf("clear the crash state directory: %w", err)
	}
	if _, err := t.Build(r, dir); err != nil {
		return Judged{}, err
	}
	view, readers := rs.Look()
	for i := range readers {
		// The state's directory is the run's own: say the file's name only.
		o := &readers[i].Starting
		o.Detail = strings.ReplaceAll(o.Detail, filepath.Join(dir, "s", "t")+string(filepath.Separator), "")
	}
	j := Judged{Recipe: r, After: t.Points[r.K].N, Call: t.Points[r.K].Call, Name: name(view), OnDisk: view.Text,
		Lost: t.Lost(r), Leftovers: t.Leftovers(r), Readers: readers}
	if r.Kind == "prefix" {
		j.Lost = "nothing"
	}
	if t.ZeroFilled(r, base) {
		j.Name = "zero-filled"
		j.OnDisk = fmt.Sprintf("zero-filled: %d bytes, every one zero", view.Size)
	}
	return j, nil
}

// name is the word for what a restarted reader finds.
func name(v step.StartingView) string {
	switch v.Found {
	case step.FoundOld, step.FoundNew:
		w, _, _ := strings.Cut(v.Text, " (") // "whole A", without " (link to ...)"
		return w
	case step.FoundError:
		return "unreadable"
	}
	return v.Found.String()
}

// Count renders a state count: the number, or "about 10^N" past 15 digits.
func Count(n *big.Int) string {
	s := n.String()
	if len(s) <= 15 {
		return s
	}
	return fmt.Sprintf("about 10^%d", len(s)-1)
}
