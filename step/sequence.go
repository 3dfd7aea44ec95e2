package step

import (
	"fmt"
	"strings"
	"time"
)

// Sequence is what one stepped update did: every watched system call of
// the real updater process, the distinct states of the target those calls
// produced (each seen at a real stop of the updater), and what a starting
// reader found when the updater was killed right after each step.
type Sequence struct {
	// Command is the updater's argv.
	Command []string `json:"command"`
	// Old and New label the versions before and after the update ("A", "B").
	Old string `json:"old"`
	New string `json:"new"`
	// States are the distinct states, in order. States[0] is the state
	// before the update; each later one differs from the one before it
	// and names the call that produced it.
	States []State `json:"states"`
	// FirstUnsafe is the index in States of the first unsafe state, -1
	// when there is none.
	FirstUnsafe int `json:"first_unsafe"`
	// Calls are every watched call, in the order they ran (Calls[i].N is
	// i+1), including failed ones and barriers.
	Calls []Call `json:"calls"`
	// Steps are the calls after which the harness probed (and at which a
	// kill point is taken), by call number.
	Steps []int `json:"steps"`
	// Kills are the kill points: one fresh run per step, killed there.
	Kills []Kill `json:"kills,omitempty"`
	// Exit is how the stepped updater ended: "exit 0", "exit 1" ...
	Exit string `json:"exit"`
	// ExitCode is its exit status, -1 when it was killed by a signal.
	ExitCode int `json:"exit_code"`
	// Failure says why an updater that exited 0 failed all the same
	// (Config.Check's error), e.g. it did not install the new version.
	Failure string `json:"failure,omitempty"`
	// Output is the start of the updater's stdout and stderr.
	Output string `json:"output,omitempty"`
	// Stops counts the ptrace stops of the stepped run, Probes the probes.
	Stops  int `json:"stops"`
	Probes int `json:"probes"`
	// Warnings say what stepping could not see or do.
	Warnings []string `json:"warnings,omitempty"`
	// Duration is the wall time of the stepped run (not the kill runs).
	Duration time.Duration `json:"duration_ns"`
}

// State is one distinct state of the target.
type State struct {
	// N is the number of the call that produced the state (#N), 0 for
	// the state before the update.
	N int `json:"n"`
	// Call is that call with its result, or "before the update".
	Call string `json:"call"`
	// Running is what a reader that mapped the target before the update
	// can read; Starting what a reader that opens the target now finds.
	Running  RunningView  `json:"running"`
	Starting StartingView `json:"starting"`
	// Readers are the outcomes of the reader strategies in both roles.
	Readers []ReaderOutcome `json:"readers,omitempty"`
	// Unsafe: a starting reader finds no whole version, or the old
	// mapping faults or changed (whatever the reader strategies made of it).
	Unsafe bool `json:"unsafe"`
}

// Line renders the state on one line:
//
//	#1 openat("db.mmdb", O_WRONLY|O_TRUNC) = 3 -> running: SIGBUS at offset 0; starting: empty file
func (s State) Line() string {
	return fmt.Sprintf("#%d %s -> running: %s; starting: %s", s.N, s.Call, s.Running.Text, s.Starting.Text)
}

// Reader returns the outcomes of reader strategy name in this state.
func (s State) Reader(name string) (ReaderOutcome, bool) {
	for _, r := range s.Readers {
		if r.Reader == name {
			return r, true
		}
	}
	return ReaderOutcome{}, false
}

// Kill is one kill point: a fresh run from the same initial state, killed
// with SIGKILL right after call #After.
type Kill struct {
	After int    `json:"after"`
	Call  string `json:"call"`
	// Found is what a starting reader finds afterwards.
	Found StartingView `json:"found"`
	// LeftBehind are the entries of the watched directories that are
	// there neither before the update nor after a complete one
	// (temporary files, links).
	LeftBehind []string `json:"left_behind,omitempty"`
	// Note says when the run did not go as the stepped one did.
	Note string `json:"note,omitempty"`
}

// Broken reports whether a starting reader finds neither whole version.
func (k Kill) Broken() bool { return !k.Found.Found.Whole() }

// Line renders the kill point on one line.
func (k Kill) Line() string {
	s := fmt.Sprintf("killed after #%d %s -> %s", k.After, k.Call, k.Found.Text)
	if len(k.LeftBehind) > 0 {
		s += "; left behind: " + strings.Join(k.LeftBehind, ", ")
	}
	if k.Note != "" {
		s += " (" + k.Note + ")"
	}
	return s
}

// Unsafe returns the first unsafe state, or nil.
func (s *Sequence) Unsafe() *State {
	if s.FirstUnsafe < 0 || s.FirstUnsafe >= len(s.States) {
		return nil
	}
	return &s.States[s.FirstUnsafe]
}

// Lines renders the states and the kill points, one per line, marking the
// first unsafe state.
func (s *Sequence) Lines() []string {
	var out []string
	for i, st := range s.States {
		l := st.Line()
		if i == s.FirstUnsafe {
			l += "   <- first unsafe state"
		}
		out = append(out, l)
	}
	for _, k := range s.Kills {
		out = append(out, k.Line())
	}
	return out
}
