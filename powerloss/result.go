package powerloss

import (
	"fmt"
	"time"

	"github.com/mapchaos/mapchaos/internal/shell"
	"github.com/mapchaos/mapchaos/results"
	"github.com/mapchaos/mapchaos/step"
	"github.com/mapchaos/mapchaos/verdicts"
)

// Update is one traced update with its judged crash states.
type Update struct {
	Label    string
	Seq      *step.Sequence
	Explored Explored
	States   []Judged
	// Duration is the time the update took in all: trace, states, readers.
	Duration time.Duration
	// Kernel is the kernel check of the update (--kernel-check), or nil.
	Kernel *KernelUpdate
}

// Result judges the combination writer x reader (the reader's index in
// the Restarter is i) from its updates under model: every state is one
// restarted reader, and the combination earns the most severe outcome. A
// state where the reader could not serve (degraded) counts as Down.
// Evidence is kept for the first state that showed the most severe
// outcome.
func Result(writer, reader string, i int, model string, ups []Update, repro string) results.Result {
	res := results.Result{Writer: writer, Reader: reader, Roles: map[results.Role]results.RoleResult{},
		Updates: len(ups), PowerLoss: &results.PowerLossTrace{Model: model}}
	var best *results.Evidence
	var dur time.Duration
	for _, u := range ups {
		dur += u.Duration
		pu := update(u)
		if u.Seq.ExitCode != 0 && res.WriterError == "" {
			res.WriterError = fmt.Sprintf("update %s: %s: %s", u.Label, u.Seq.Exit, u.Seq.Output)
		}
		for n, j := range u.States {
			o := j.Readers[i].Starting
			account(&res, o)
			cs := results.CrashState{ID: n + 1, Kind: j.Kind, After: j.After, Call: j.Call, Lost: j.Lost,
				Name: j.Name, OnDisk: j.OnDisk, Leftovers: j.Leftovers, Verdict: o.Verdict, Detail: o.Detail,
				Down: o.Verdict == verdicts.Degraded || o.Verdict == verdicts.Stuck}
			if cs.Down {
				res.PowerLoss.Down++
			}
			pu.States = append(pu.States, cs)
			if o.Verdict > verdicts.Safe && (best == nil || o.Verdict > best.Outcome) {
				best = &results.Evidence{Outcome: o.Verdict, Role: results.Starting, Reader: "restarted",
					Step: cs.After, ExitStatus: o.Died, Signal: o.Signal, Stderr: o.Stderr, Addr: o.Addr,
					WriterStep: fmt.Sprintf("update %s, power lost after #%d %s (%s model, state %d)", u.Label, cs.After, j.Call, model, cs.ID),
					Detail:     fmt.Sprintf("a reader restarted after the power loss: %s; on disk: %s; lost: %s", o.Detail, j.OnDisk, j.Lost)}
			}
		}
		if u.Kernel != nil {
			pu.Kernel = kernelCheck(&res, u.Kernel, i)
			if pu.Kernel.Missed > 0 && res.PowerLoss.Missed == nil {
				res.PowerLoss.Missed = missedEvidence(u, pu.Kernel)
			}
		}
		res.PowerLoss.Updates = append(res.PowerLoss.Updates, pu)
	}
	res.Verdict = res.Counts.Worst()
	res.DurationMS = dur.Milliseconds()
	if best != nil {
		best.Repro = repro
		res.Evidence = best
	}
	return res
}

// update is the report's account of u, without its states.
func update(u Update) results.PowerLossUpdate {
	s := u.Seq
	pu := results.PowerLossUpdate{Update: u.Label, Command: shell.Join(s.Command), Calls: len(s.Calls),
		Exist: Count(u.Explored.Exist), Explored: len(u.States), Sampled: u.Explored.Sampled, Exit: s.Exit, Warnings: s.Warnings}
	for _, c := range s.Calls {
		if c.Class == step.Barrier {
			pu.Barriers++
		}
	}
	return pu
}

// account adds a restarted reader's outcome.
func account(res *results.Result, o step.Outcome) {
	res.Counts.Add(o.Verdict)
	rr := res.Roles[results.Starting]
	rr.Counts.Add(o.Verdict)
	rr.Readers++
	rr.Verdict = rr.Counts.Worst()
	res.Roles[results.Starting] = rr
	res.Lookups += o.Lookups
	res.Answers.Add(o.Tally)
}

// kernelCheck is the report's account of a kernel check, with the
// restarted reader i's outcome in each state added to res.
func kernelCheck(res *results.Result, ku *KernelUpdate, i int) *results.KernelCheck {
	kr := ku.Replay
	kc := &results.KernelCheck{Device: ku.Device, Model: ku.Model, Entries: kr.Entries, Barriers: kr.Barriers, Replays: kr.Replays, Mounted: kr.Mounted,
		ModelStates: ku.ModelStates, ModelProduced: ku.ModelProduced, NamesNotProduced: ku.NamesNotProduced,
		DurationMS: kr.Duration.Milliseconds()}
	for n, s := range kr.States {
		j := ku.Judged[n]
		o := j.Readers[i].Starting
		account(res, o)
		ks := results.KernelState{ID: n + 1, Entry: s.Entry, What: s.What, Mark: s.Mark, Replays: s.Replays, LostWrites: s.Lost,
			InModel: s.InModel, After: s.After, Meta: s.Meta, Pages: s.Pages, Name: j.Name, OnDisk: j.OnDisk, Lost: j.Lost,
			Leftovers: j.Leftovers, Verdict: o.Verdict, Detail: o.Detail,
			Down: o.Verdict == verdicts.Degraded || o.Verdict == verdicts.Stuck}
		if ks.Down {
			res.PowerLoss.Down++
		}
		if !s.InModel {
			kc.Missed++
		}
		kc.States = append(kc.States, ks)
	}
	return kc
}

// missedEvidence says which replay left the first state the model missed.
func missedEvidence(u Update, kc *results.KernelCheck) *string {
	for _, s := range kc.States {
		if !s.InModel {
			m := fmt.Sprintf("update %s: the replay of the kernel's log to entry %d (%s, after mark %q) left a state the model does not allow: %s (%s)", u.Label, s.Entry, s.What, s.Mark, s.OnDisk, s.Pages)
			return &m
		}
	}
	return nil
}
