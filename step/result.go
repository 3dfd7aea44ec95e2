package step

import (
	"fmt"
	"strings"
	"time"

	"github.com/mapchaos/mapchaos/crashes"
	"github.com/mapchaos/mapchaos/internal/shell"
	"github.com/mapchaos/mapchaos/results"
	"github.com/mapchaos/mapchaos/verdicts"
)

// Update is one stepped update of a writer: its direction ("A->B") and
// its sequence.
type Update struct {
	Label string
	Seq   *Sequence
}

// Result judges the combination writer x reader from the stepped updates
// of the writer, exactly as race mode judges a race: each state is one
// running reader (mapped before the update) and one starting reader
// (opening the target in that state), each earning the outcome of its
// lookups (a memory fault kills a reader without PanicOnFault: crash; a
// wrong answer: corrupt; an error: degraded ...), and the combination
// earns the most severe. Evidence is kept for the first state that showed
// the most severe outcome, with the system call that produced it. repro is
// the command that runs the combination again.
func Result(writer, reader string, updates []Update, repro string) results.Result {
	res := results.Result{Writer: writer, Reader: reader, Roles: map[results.Role]results.RoleResult{},
		Updates: len(updates), Step: &results.StepTrace{}}
	var best *results.Evidence
	var dur time.Duration
	for _, u := range updates {
		s := u.Seq
		dur += s.Duration
		su := results.StepUpdate{Update: u.Label, Command: shell.Join(s.Command), Calls: len(s.Calls),
			Stops: s.Stops, Probes: s.Probes, Exit: s.Exit, Warnings: s.Warnings}
		if st := s.Unsafe(); st != nil {
			su.FirstUnsafe = st.N
		}
		if s.ExitCode != 0 && res.WriterError == "" {
			res.WriterError = fmt.Sprintf("update %s: %s: %s", u.Label, s.Exit, strings.TrimSpace(s.Output))
		}
		if s.Failure != "" && res.WriterError == "" {
			res.WriterError = fmt.Sprintf("update %s: %s", u.Label, s.Failure)
		}
		for _, st := range s.States {
			ro, ok := st.Reader(reader)
			ss := results.StepState{N: st.N, Call: st.Call, Running: st.Running.Text, Starting: st.Starting.Text, Unsafe: st.Unsafe}
			if ok {
				ss.RunningVerdict, ss.StartingVerdict = ro.Running.Verdict, ro.Starting.Verdict
				for _, role := range []struct {
					role results.Role
					o    Outcome
				}{{results.Running, ro.Running}, {results.Starting, ro.Starting}} {
					account(&res, role.role, role.o)
					if ev := evidence(u.Label, st, role.role, role.o); ev != nil && (best == nil || ev.Outcome > best.Outcome) {
						best = ev
					}
				}
				ss.Detail = stateDetail(ro)
			}
			su.States = append(su.States, ss)
		}
		for _, k := range s.Kills {
			su.Kills = append(su.Kills, results.StepKill{After: k.After, Call: k.Call, Found: k.Found.Text,
				Broken: k.Broken(), LeftBehind: k.LeftBehind, Note: k.Note})
		}
		res.Step.Updates = append(res.Step.Updates, su)
	}
	res.Verdict = res.Counts.Worst()
	res.DurationMS = dur.Milliseconds()
	if best != nil && best.Outcome > verdicts.Safe {
		best.Repro = repro
		res.Evidence = best
	}
	return res
}

// account adds one reader's outcome in one role and state.
func account(res *results.Result, role results.Role, o Outcome) {
	res.Counts.Add(o.Verdict)
	rr := res.Roles[role]
	rr.Counts.Add(o.Verdict)
	rr.Readers++
	rr.Verdict = rr.Counts.Worst()
	res.Roles[role] = rr
	res.Lookups += o.Lookups
	res.Answers.Add(o.Tally)
}

// evidence describes outcome o of a reader in role in state st, or nil
// when it was safe.
func evidence(label string, st State, role results.Role, o Outcome) *results.Evidence {
	if o.Verdict == verdicts.Safe {
		return nil
	}
	ev := &results.Evidence{Outcome: o.Verdict, Role: role, Reader: string(role), Step: st.N,
		WriterStep: fmt.Sprintf("update %s, #%d %s", label, st.N, st.Call), Addr: o.Addr}
	view := "the target: " + st.Starting.Text
	if o.Died != "" {
		// A foreign reader's process really ended: its wait status says how.
		ev.ExitStatus, ev.Stderr, ev.Signal = o.Died, o.Stderr, o.Signal
		if o.Signal != "" {
			ev.SignalNumber = crashes.Number(o.Signal)
		}
	}
	if role == results.Running {
		view = "its mapping of the old file: " + st.Running.Text
		if o.Died != "" && o.Signal == "SIGBUS" && st.Running.FaultAt >= 0 {
			ev.Code = "BUS_ADRERR"
			view += " (the harness's own mapping faults past the end of the file there: MADV_POPULATE_READ gives EFAULT)"
		} else if o.Faults > 0 && st.Running.FaultAt >= 0 {
			ev.Signal, ev.SignalNumber, ev.Code = "SIGBUS", 7, "BUS_ADRERR"
			view += " (not delivered: MADV_POPULATE_READ fails with EFAULT exactly where a read raises SIGBUS, and the lookup's fault was recovered in the probe)"
		}
	}
	who := "a reader that mapped the target before the update"
	if role == results.Starting {
		who = "a reader opening the target in this state"
	}
	ev.Detail = fmt.Sprintf("%s: %s; %s", who, o.Detail, view)
	if o.Lookups > 0 {
		ev.Detail += fmt.Sprintf(" [%d lookups: %d right, %d wrong, %d errors, %d faults]", o.Lookups, o.Right, o.Wrong, o.Errors, o.Faults)
	}
	return ev
}

// stateDetail says what went wrong for a reader in a state.
func stateDetail(ro ReaderOutcome) string {
	var parts []string
	if ro.Running.Verdict != verdicts.Safe {
		parts = append(parts, "running: "+ro.Running.Detail)
	}
	if ro.Starting.Verdict != verdicts.Safe {
		parts = append(parts, "starting: "+ro.Starting.Detail)
	}
	return strings.Join(parts, "; ")
}
