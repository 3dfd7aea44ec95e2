package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mapchaos/mapchaos/harness"
	"github.com/mapchaos/mapchaos/internal/progress"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/results"
	"github.com/mapchaos/mapchaos/step"
)

// printer prints how a run goes: a line per finished combination (with a
// status line on a terminal), each stepped sequence, notes on stdout and
// warnings on stderr.
type printer struct {
	a     *app
	cmd   string // "matrix", "check": names warnings
	start time.Time
	prog  *progress.Line
	line  func(k, n int, e reports.Entry, elapsed time.Duration) string
}

func newPrinter(a *app, cmd string, n int, start time.Time) *printer {
	return &printer{a: a, cmd: cmd, start: start, prog: progress.New(a.stdout, n, start), line: progressLine}
}

func (p *printer) Begin(k, _ int, c harness.Combo) { p.prog.Begin(k, c.Name()) }

func (p *printer) Done(k, n int, e reports.Entry) {
	p.prog.Finished(p.line(k, n, e, time.Since(p.start)), e.Verdict)
}

func (p *printer) Stepped(writer, label string, s *step.Sequence) {
	printSequence(p.prog, writer, label, s)
}

func (p *printer) Note(line string) { fmt.Fprintln(p.prog, line) }

func (p *printer) Warn(msg string) {
	fmt.Fprintf(p.a.stderr, "mapchaos %s: warning: %s\n", p.cmd, msg)
}

func (p *printer) close() { p.prog.Close() }

// printSequence prints one stepped update: its states and kill points.
func printSequence(w io.Writer, writer, label string, s *step.Sequence) {
	broken := 0
	for _, k := range s.Kills {
		if k.Broken() {
			broken++
		}
	}
	fmt.Fprintf(w, "\n%s %s: %s; %d calls, %d states, %d of %d kill points broken (%d ptrace stops, %d probes, %s)\n",
		writer, label, s.Exit, len(s.Calls), len(s.States), broken, len(s.Kills), s.Stops, s.Probes, s.Duration.Round(time.Millisecond))
	for _, l := range s.Lines() {
		fmt.Fprintln(w, "  "+l)
	}
	for _, x := range s.Warnings {
		fmt.Fprintln(w, "  warning: "+x)
	}
}

// measured says what a combination's run measured: a rate of lookups in a
// race, states and probes in step mode, crash states opened after a power
// cut.
func measured(e reports.Entry) string {
	if pl := e.PowerLoss; pl != nil {
		opened := 0
		for _, u := range pl.Updates {
			opened += u.Explored
		}
		return fmt.Sprintf("%d crash states opened, %d lookups", opened, e.Lookups)
	}
	if e.Step == nil {
		return fmt.Sprintf("%d lookups, %.0f/s per reader", e.Lookups, e.LookupsPerSec)
	}
	states, probes := 0, 0
	for _, u := range e.Step.Updates {
		states += len(u.States)
		probes += u.Probes
	}
	return fmt.Sprintf("%d states, %d probes, %d lookups", states, probes, e.Lookups)
}

// roles is "running=crash starting=degraded".
func roles(e reports.Entry) string {
	var parts []string
	for _, role := range []string{"running", "starting"} {
		if r, ok := e.Roles[results.Role(role)]; ok && r.Readers > 0 {
			parts = append(parts, role+"="+r.Verdict.String())
		}
	}
	return strings.Join(parts, " ")
}
