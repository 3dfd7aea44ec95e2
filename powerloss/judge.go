package powerloss

import (
	"context"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"

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

// StateTarget is where Judge lays out the target of each state under
// root: give it to step.RestartConfig.Target.
func StateTarget(root, base string) string { return filepath.Join(root, "s", "t", base) }

// Judge builds each state of ex in a fresh directory under root (removed
// afterwards unless keep), opens it with every reader of rs, and names it.
// base is the target's name in its directory.
func Judge(ctx context.Context, t *Trace, ex Explored, root, base string, rs *step.Restarter, keep bool) ([]Judged, error) {
	var out []Judged
	for i, r := range ex.States {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if err := os.RemoveAll(filepath.Join(root, "s")); err != nil {
			return out, fmt.Errorf("clear the crash state directory: %w", err)
		}
		if _, err := t.Build(r, root); err != nil {
			return out, err
		}
		view, readers := rs.Look()
		for i := range readers {
			// The state's directory is the run's own: say the file's name only.
			o := &readers[i].Starting
			o.Detail = strings.ReplaceAll(o.Detail, filepath.Join(root, "s", "t")+string(filepath.Separator), "")
		}
		j := Judged{Recipe: r, After: t.Points[r.K].N, Call: t.Points[r.K].Call, Name: name(view), OnDisk: view.Text,
			Lost: t.Lost(r), Leftovers: t.Leftovers(r), Readers: readers}
		if r.Kind == "prefix" && j.Lost != "nothing" {
			j.Lost = "nothing"
		}
		if t.ZeroFilled(r, base) {
			j.Name = "zero-filled"
			j.OnDisk = fmt.Sprintf("zero-filled: %d bytes, every one zero", view.Size)
		}
		out = append(out, j)
		if keep {
			if err := os.Rename(filepath.Join(root, "s"), filepath.Join(root, fmt.Sprintf("state-%d", i+1))); err != nil {
				return out, err
			}
		}
	}
	return out, os.RemoveAll(filepath.Join(root, "s"))
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
