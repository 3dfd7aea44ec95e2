package harness

import (
	"context"
	"path/filepath"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/step"
)

// Run is one mapchaos run: what to race (Plan), on which pair (Pair), how
// (Mode) and where (Env). Every entry point builds one and calls Execute:
// `mapchaos matrix`, `mapchaos check`, `explain --reproduce`, the matrix
// suite and mapchaos.Race.
type Run struct {
	Plan Plan
	Pair fixtures.Pair
	Mode Mode
	Env  Environment
	// Out is the output directory: each combination runs in
	// Out/runs/<writer>_x_<reader> unless Dir says otherwise.
	Out string
	// Dir, when not nil, gives the run directory of a combination.
	Dir func(Combo) string
	// Self is the mapchaos executable: reader children run as `Self
	// reader`, built-in writers in step mode as `Self writer`, and the
	// trace wrapper as `Self trace-wrap`.
	Self string
	// Repro renders each combination's repro command in its evidence.
	Repro Repro
	// Events hears how the run goes (nil: nothing is told).
	Events Events
	// WriterCmd, ReaderCmd and Warnings go into the report's run section.
	WriterCmd, ReaderCmd string
	Warnings             []string
	// KeepData keeps the target and the versions in each run directory
	// (they are removed by default; logs, rings and stderr stay).
	KeepData bool
	// FS names the file system the targets are on, for expectations
	// scoped to one (the --fs name; "": the kernel's name of the one
	// holding Out).
	FS string

	k, n  int   // combinations begun, and in all
	layer layer // where targets are laid out (Mounted overlay, NFS); nil: in place
	// cold, when set, evicts the readers' cached pages of the target now
	// (NFS: cold pages); step mode calls it after every probe.
	cold func()
}

// Events hears how a run goes, for progress lines. Each method may be
// called from the goroutine that called Execute only.
type Events interface {
	// Begin: combination k of n starts.
	Begin(k, n int, c Combo)
	// Done: combination k of n finished with e.
	Done(k, n int, e reports.Entry)
	// Stepped: step mode stepped one update of writer (label "A->B").
	Stepped(writer, label string, s *step.Sequence)
	// Note: a line of progress of the run as a whole.
	Note(line string)
	// Warn: something the user should know about the run as a whole.
	Warn(msg string)
}

// Placed is a report and the directory it belongs in: one for a run on
// the host, one per file system for a run in a guest.
type Placed struct {
	// Label names where the run happened ("ext4", "tmpfs"), "" for one.
	Label  string
	Dir    string
	Report reports.Report
}

// Execute runs r in its environment and returns its report(s), which the
// caller writes (Write). An error means the run could not be
// done: an *InputError for bad input, ctx's error, or a harness failure;
// verdicts, even the worst, are not errors.
func (r *Run) Execute(ctx context.Context) ([]Placed, error) {
	if r.Events == nil {
		r.Events = Quiet{}
	}
	if r.Mode == nil {
		r.Mode = Race{}
	}
	if r.Env == nil {
		r.Env = Local{}
	}
	return r.Env.Execute(ctx, r)
}

// DirOf is the run directory of combination c.
func (r *Run) DirOf(c Combo) string {
	if r.Dir != nil {
		return r.Dir(c)
	}
	return filepath.Join(r.Out, "runs", c.Writer.Name+"_x_"+c.Reader.Name)
}

// begin tells Events that combination c begins.
func (r *Run) begin(c Combo) {
	r.k++
	r.Events.Begin(r.k, r.n, c)
}

// done tells Events that the combination begun last ended with e.
func (r *Run) done(e reports.Entry) { r.Events.Done(r.k, r.n, e) }

// reproOf renders the repro command of combination c.
func (r *Run) reproOf(c Combo) string {
	reader := c.Reader.Name
	if len(c.Reader.Command) > 0 {
		reader = ""
	}
	return r.Repro.For(c.Writer.Name, reader)
}

// report starts the report of r, run in dir.
func (r *Run) report(dir string) reports.Report {
	run := reports.CaptureRun(dir)
	run.Seed = r.Plan.Config.Race.Seed
	run.Mode = r.Mode.Name()
	run.Config = r.Plan.Config.Path
	run.Fixture = FixtureText(r.Pair)
	run.WriterCmd, run.ReaderCmd = r.WriterCmd, r.ReaderCmd
	run.Warnings = append(run.Warnings, r.Warnings...)
	return reports.Report{Schema: reports.Schema, Run: run}
}

// Quiet hears nothing.
type Quiet struct{}

func (Quiet) Begin(int, int, Combo)                  {}
func (Quiet) Done(int, int, reports.Entry)           {}
func (Quiet) Stepped(string, string, *step.Sequence) {}
func (Quiet) Note(string)                            {}
func (Quiet) Warn(string)                            {}
