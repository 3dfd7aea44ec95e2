package results

import (
	"fmt"
	"strings"

	"github.com/mapchaos/mapchaos/internal/lines"
	"github.com/mapchaos/mapchaos/verdicts"
)

// Result is what one combination (writer x reader) earned in one real run.
// Every field comes from the run; nothing is filled in from expectations.
type Result struct {
	Writer  string           `json:"writer"`
	Reader  string           `json:"reader"`
	Verdict verdicts.Verdict `json:"verdict"`
	// Counts holds how many reader processes ended in each outcome.
	Counts verdicts.Counts `json:"counts"`
	// Roles splits the readers into running (open before the updates) and
	// starting (opened while an update was under way).
	Roles   map[Role]RoleResult `json:"roles"`
	Lookups int64               `json:"lookups"`
	// Answers counts lookups by how they were answered, and opens.
	Answers verdicts.Tally `json:"answers"`
	Updates int            `json:"updates"`
	// FirstFailureMS is the time from the first update to the first
	// non-safe event, or nil when there was none.
	FirstFailureMS *int64 `json:"first_failure_ms,omitempty"`
	DurationMS     int64  `json:"duration_ms"`
	// LookupsPerSec is the mean rate of one running reader over its own
	// life (a reader that died early is not averaged over time it was dead).
	LookupsPerSec float64 `json:"lookups_per_sec"`
	// Evidence is kept for the most severe outcome when it is crash,
	// corrupt, recovered, stuck or degraded.
	Evidence *Evidence `json:"evidence,omitempty"`
	// WriterError is set when the writer itself failed (not a verdict).
	WriterError string `json:"writer_error,omitempty"`
	// Leftovers name the processes the updater or a foreign reader
	// started that outlived it; the harness killed each.
	Leftovers []string `json:"leftovers,omitempty"`
	// Step is what step mode (--mode step) saw: the sequence of states of
	// each stepped update. Nil in race mode.
	Step *StepTrace `json:"step,omitempty"`
	// PowerLoss is what power-loss mode (--mode power-loss) found: the
	// crash states of each update under a persistence model, and what a
	// restarted reader of this strategy met in each. Nil in other modes.
	PowerLoss *PowerLossTrace `json:"power_loss,omitempty"`
}

// StepTrace is what step mode saw of one combination: for each stepped
// update, the distinct states of the target, each produced by a real
// system call of the real writer process stopped under ptrace, with this
// reader strategy's outcome in both roles, and what a starting reader
// found when the writer was killed right after each step.
type StepTrace struct {
	Updates []StepUpdate `json:"updates"`
}

// StepUpdate is one stepped update.
type StepUpdate struct {
	// Update is its direction, e.g. "A->B".
	Update string `json:"update"`
	// Command is the writer's command line.
	Command string      `json:"command"`
	States  []StepState `json:"states"`
	// FirstUnsafe is the call number (#N) of the first unsafe state, 0
	// when no state was unsafe.
	FirstUnsafe int `json:"first_unsafe,omitempty"`
	// Kills holds one kill point per step.
	Kills []StepKill `json:"kills,omitempty"`
	// Calls counts the system calls on the target or its directory,
	// Stops the ptrace stops, Probes the probes.
	Calls  int `json:"calls"`
	Stops  int `json:"stops"`
	Probes int `json:"probes"`
	// Exit is how the stepped writer ended ("exit 0").
	Exit     string   `json:"exit"`
	Warnings []string `json:"warnings,omitempty"`
}

// StepState is one distinct state of the target.
type StepState struct {
	// N is the call that produced it (#N); 0 is the state before the update.
	N    int    `json:"n"`
	Call string `json:"call"`
	// Running is what a reader that mapped the target before the update
	// can read; Starting what a reader opening the target now finds.
	Running  string `json:"running"`
	Starting string `json:"starting"`
	// Unsafe: a starting reader finds no whole version, or the old
	// mapping faults or changed.
	Unsafe bool `json:"unsafe,omitempty"`
	// RunningVerdict and StartingVerdict are this reader strategy's
	// outcomes in this state; Detail says what went wrong.
	RunningVerdict  verdicts.Verdict `json:"running_verdict"`
	StartingVerdict verdicts.Verdict `json:"starting_verdict"`
	Detail          string           `json:"detail,omitempty"`
}

// StepKill is what a starting reader found after the writer was killed
// (SIGKILL) right after call #After.
type StepKill struct {
	After int    `json:"after"`
	Call  string `json:"call"`
	Found string `json:"found"`
	// Broken: neither the whole old nor the whole new file.
	Broken     bool     `json:"broken,omitempty"`
	LeftBehind []string `json:"left_behind,omitempty"`
	Note       string   `json:"note,omitempty"`
}

// Role is "running" or "starting".
type Role string

// The two reader lifecycles.
const (
	Running  Role = "running"
	Starting Role = "starting"
)

// RoleResult is the verdict and counts of one role's readers.
type RoleResult struct {
	Verdict verdicts.Verdict `json:"verdict"`
	Counts  verdicts.Counts  `json:"counts"`
	Readers int              `json:"readers"`
}

// Evidence describes the most severe outcome of a combination.
type Evidence struct {
	Outcome verdicts.Verdict `json:"outcome"`
	Role    Role             `json:"role"`
	// Reader identifies the reader process, e.g. "running-1".
	Reader string `json:"reader"`
	// Signal is the signal name (SIGBUS), SignalNumber its number.
	Signal       string `json:"signal,omitempty"`
	SignalNumber int    `json:"signal_number,omitempty"`
	// Code is the si_code name (BUS_ADRERR ...) when known.
	Code string `json:"code,omitempty"`
	// Addr is the fault address, e.g. "0x7f3a2c001000".
	Addr string `json:"addr,omitempty"`
	// ExitStatus is the wait status in words: "exit 2", "killed by SIGBUS".
	ExitStatus string `json:"exit_status,omitempty"`
	// Fatal is the runtime's headline: "fatal error: fault", "panic: ...".
	Fatal string `json:"fatal,omitempty"`
	// Trace holds the lines that matter: the signal line and the first
	// frames outside the Go runtime.
	Trace string `json:"trace,omitempty"`
	// Detail says what was wrong for corrupt/degraded/stuck outcomes.
	Detail string `json:"detail,omitempty"`
	// LastLookups are the IPs the reader looked up last, oldest first.
	LastLookups []string `json:"last_lookups,omitempty"`
	// WriterStep is what the writer was doing at that moment.
	WriterStep string `json:"writer_step,omitempty"`
	// AtMS is the time of the event since the first update began.
	AtMS int64 `json:"at_ms"`
	// Stderr is the start of the reader's stderr (the whole file stays in
	// the run directory).
	Stderr string `json:"stderr,omitempty"`
	// Repro is a command that runs this combination again.
	Repro string `json:"repro,omitempty"`
	// Step is the call number (#N) of the state where step mode saw this
	// outcome (WriterStep then holds that call); 0 in race mode.
	Step int `json:"step,omitempty"`
}

// Outcome returns the verdict and a readable account of it: what the
// Gomega matchers show when a verdict is not the expected one.
func (r Result) Outcome() (verdicts.Verdict, string) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s x %s: %s", r.Writer, r.Reader, r.Verdict)
	for _, role := range []Role{Running, Starting} {
		if rr, ok := r.Roles[role]; ok && rr.Readers > 0 {
			fmt.Fprintf(&b, "; %s readers: %s (%d)", role, rr.Verdict, rr.Readers)
		}
	}
	fmt.Fprintf(&b, "\n  %d lookups: %d right, %d wrong, %d errors, %d faults; %d failed opens; %d updates",
		r.Lookups, r.Answers.Right, r.Answers.Wrong, r.Answers.Errors, r.Answers.Faults, r.Answers.OpenErrors, r.Updates)
	if r.WriterError != "" {
		fmt.Fprintf(&b, "\n  writer failed: %s", r.WriterError)
	}
	if r.Evidence != nil {
		b.WriteString("\n" + r.Evidence.String())
	}
	return r.Verdict, b.String()
}

// String renders the evidence as indented "field: value" lines.
func (e Evidence) String() string {
	var b strings.Builder
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "  %s: %s\n", k, v)
		}
	}
	line("evidence", fmt.Sprintf("%s in %s reader %s", e.Outcome, e.Role, e.Reader))
	if e.Signal != "" {
		line("signal", fmt.Sprintf("%s (%d) %s", e.Signal, e.SignalNumber, e.Code))
	}
	line("addr", e.Addr)
	line("exit", e.ExitStatus)
	line("fatal", e.Fatal)
	line("detail", e.Detail)
	line("writer", e.WriterStep)
	line("at", fmt.Sprintf("%d ms after the first update", e.AtMS))
	if len(e.LastLookups) > 0 {
		line("last lookups", strings.Join(e.LastLookups, " "))
	}
	block := func(k, v string) {
		b.WriteString("  " + k + ":\n")
		for _, l := range strings.Split(v, "\n") {
			b.WriteString("    " + l + "\n")
		}
	}
	switch {
	case e.Trace != "":
		block("trace", e.Trace)
	case strings.TrimSpace(e.Stderr) != "":
		// Not a trace the harness knows (a Python traceback, a C
		// program's message): its last lines usually say why.
		block("stderr (last lines)", lines.Last(e.Stderr, 3))
	}
	line("repro", e.Repro)
	return strings.TrimRight(b.String(), "\n")
}
