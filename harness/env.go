package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/mapchaos/mapchaos/config"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/step"
)

// Environment is where a run happens: where its targets live, and how
// that place is set up and torn down. Adding an environment is one new
// type.
type Environment interface {
	// Name describes the environment in messages ("this machine").
	Name() string
	// Execute runs r there and returns its report(s).
	Execute(ctx context.Context, r *Run) ([]Placed, error)
}

// Local runs on this machine: every combination in its own directory
// under the run's output directory, on whatever file system holds it.
type Local struct{}

// Name is "this machine".
func (Local) Name() string { return "this machine" }

// Execute runs the mode over every writer of the plan, in order. A mode
// that is not available here (step mode without ptrace) gives way to
// racing, which the report and a warning say.
func (Local) Execute(ctx context.Context, r *Run) ([]Placed, error) {
	start := time.Now()
	if err := os.MkdirAll(r.Out, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	r.n = len(r.Plan.Combos)
	mode := r.Mode
	rep := r.report(r.Out)
	if a, ok := mode.(interface{ Available() error }); ok {
		if err := a.Available(); err != nil {
			mode = fallBack(r, &rep, err)
		}
	}
	fs := r.FS
	if fs == "" {
		fs = rep.Run.FS
	}
	r.Plan = r.Plan.In(config.Where{FS: fs, Mode: mode.Name()})
	for i, w := range r.Plan.Writers() {
		es, err := mode.Writer(ctx, r, r.Plan.Of(w.Name))
		if errors.Is(err, step.ErrNotPermitted) && i == 0 {
			r.k = 0
			mode = fallBack(r, &rep, err)
			es, err = mode.Writer(ctx, r, r.Plan.Of(w.Name))
		}
		if err != nil {
			return nil, err
		}
		rep.Results = append(rep.Results, es...)
	}
	rep.Run.DurationMS = time.Since(start).Milliseconds()
	return []Placed{{Dir: r.Out, Report: rep}}, nil
}

// fallBack races instead of stepping, because ptrace is not allowed here
// (why), and says so in the report and as a warning.
func fallBack(r *Run, rep *reports.Report, why error) Mode {
	warning := fmt.Sprintf("--mode step needs ptrace, which this machine does not allow (%v): raced by timing instead, which can miss narrow windows", why)
	r.Events.Warn(warning)
	rep.Run.Mode, rep.Run.Requested = "race", "step"
	rep.Run.Warnings = append(rep.Run.Warnings, warning)
	return Race{}
}
