package reports

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mapchaos/mapchaos/results"
)

// crashStates renders the crash states of a power-loss report as a
// Markdown section ("## Crash states after a power loss"), the last of
// report.md: for each writer and traced update, how many states the model
// allows and how many were opened, then one row per state: the call the
// power was lost after, what was lost, what is on disk, leftovers, and
// each reader strategy's verdict as a restarted reader. It returns "" when
// no entry has a power-loss trace.
func crashStates(r Report) string {
	var writers []string
	by := map[string][]Entry{}
	for _, e := range r.Results {
		if e.PowerLoss == nil {
			continue
		}
		if _, ok := by[e.Writer]; !ok {
			writers = append(writers, e.Writer)
		}
		by[e.Writer] = append(by[e.Writer], e)
	}
	if len(writers) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("## Crash states after a power loss\n\n")
	fmt.Fprintf(&b, "Each state is what the `%s` persistence model allows on disk when the power is lost right after the call shown "+
		"(*prefix*: every call up to it persisted; *crash*: something written before it was lost). Each was laid out in a fresh directory "+
		"and opened by a reader of every strategy, as after a reboot; a reader that cannot serve there (**down**) means a service that does not come back.\n",
		by[writers[0]][0].PowerLoss.Model)
	for _, w := range writers {
		es := by[w]
		for ui, u := range es[0].PowerLoss.Updates {
			fmt.Fprintf(&b, "\n### %s, update %s\n\n", mdText(w), mdText(u.Update))
			fmt.Fprintf(&b, "%s: %s; %d calls on the target or its directory, %d of them barriers (fsync ...). %s\n\n",
				mdCell(u.Command), mdText(u.Exit), u.Calls, u.Barriers, mdText(exploredText(u)))
			b.WriteString("| state | power lost after | lost | on disk | left behind |")
			for _, e := range es {
				fmt.Fprintf(&b, " %s |", mdText(e.Reader))
			}
			b.WriteString("\n|---|---|---|---|---|" + strings.Repeat("---|", len(es)) + "\n")
			for si, s := range u.States {
				fmt.Fprintf(&b, "| %d %s | #%d %s | %s | **%s**: %s | %s |", s.ID, s.Kind, s.After, mdCell(s.Call),
					mdText(s.Lost), mdText(s.Name), mdText(s.OnDisk), mdText(strings.Join(s.Leftovers, ", ")))
				for _, e := range es {
					fmt.Fprintf(&b, " %s |", stateVerdict(e, ui, si))
				}
				b.WriteString("\n")
			}
			b.WriteString(kernelTable(es, ui))
		}
	}
	return b.String()
}

// kernelTable renders the kernel check of update ui (--kernel-check): the
// replays, then one row per distinct state the kernel left, "" without one.
func kernelTable(es []Entry, ui int) string {
	k := es[0].PowerLoss.Updates[ui].Kernel
	if k == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n**Kernel check** (%s): %s\n\n", mdText(k.Device), mdText(KernelSummary(k)))
	b.WriteString("| kernel state | replayed to log entry | in the model | on disk | lost | left behind |")
	for _, e := range es {
		fmt.Fprintf(&b, " %s |", mdText(e.Reader))
	}
	b.WriteString("\n|---|---|---|---|---|---|" + strings.Repeat("---|", len(es)) + "\n")
	for si, s := range k.States {
		in := "**no: a bug in the model** (" + mdText(s.Pages) + ")"
		if s.InModel {
			in = fmt.Sprintf("yes (after #%d, names as after #%d)", s.After, s.Meta)
		}
		fmt.Fprintf(&b, "| %d | %d %s (after mark %s; %d replays) | %s | **%s**: %s | %s | %s |", s.ID, s.Entry, mdText(s.What), mdText(s.Mark), s.Replays,
			in, mdText(s.Name), mdText(s.OnDisk), mdText(s.Lost), mdText(strings.Join(s.Leftovers, ", ")))
		for _, e := range es {
			v := "-"
			if kc := e.PowerLoss.Updates[ui].Kernel; kc != nil && si < len(kc.States) {
				v = kc.States[si].Verdict.String()
				if kc.States[si].Down {
					v += " (**down**)"
				}
			}
			fmt.Fprintf(&b, " %s |", v)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// KernelSummary says in one sentence what a kernel check found.
func KernelSummary(k *results.KernelCheck) string {
	var names []string
	for _, s := range k.States {
		if !slices.Contains(names, s.Name) {
			names = append(names, s.Name)
		}
	}
	model := k.Model
	if model == "" {
		model = "ext4-ordered"
	}
	missed := "every one allowed by the " + model + " model"
	if k.Missed > 0 {
		missed = fmt.Sprintf("%d NOT allowed by the %s model (a bug in the model)", k.Missed, model)
	}
	s := fmt.Sprintf("%d log entries after the update's start (%d flush or FUA), %d replays (%d mounted) in %.1f s; %d distinct states (%s), %s; the kernel left %d of the model's %d explored states",
		k.Entries, k.Barriers, k.Replays, k.Mounted, float64(k.DurationMS)/1000, len(k.States), strings.Join(names, ", "), missed, k.ModelProduced, k.ModelStates)
	if len(k.NamesNotProduced) > 0 {
		s += "; model states no replay left: " + strings.Join(k.NamesNotProduced, ", ")
	}
	return s + "."
}

// exploredText says how many states were opened of how many the model allows.
func exploredText(u results.PowerLossUpdate) string {
	if u.Sampled {
		return fmt.Sprintf("%d distinct states opened, drawn from the seed, of %s the model allows.", u.Explored, u.Exist)
	}
	return fmt.Sprintf("%d distinct states opened, every one the draws found (the model allows %s, counted per crash point and with duplicates).", u.Explored, u.Exist)
}

// stateVerdict is e's verdict in state si of update ui, marked when down.
func stateVerdict(e Entry, ui, si int) string {
	if ui >= len(e.PowerLoss.Updates) || si >= len(e.PowerLoss.Updates[ui].States) {
		return "-"
	}
	s := e.PowerLoss.Updates[ui].States[si]
	if s.Down {
		return s.Verdict.String() + " (**down**)"
	}
	return s.Verdict.String()
}

// powerLossText renders one combination's crash states, one per line,
// for its evidence section.
func powerLossText(pl *results.PowerLossTrace) string {
	if pl == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "model %s; %d state(s) where a restarted reader cannot serve (down)\n", pl.Model, pl.Down)
	for _, u := range pl.Updates {
		fmt.Fprintf(&b, "update %s: %s (%d calls, %d barriers); %s\n", u.Update, u.Exit, u.Calls, u.Barriers, exploredText(u))
		for _, s := range u.States {
			down := ""
			if s.Down {
				down = ", down"
			}
			fmt.Fprintf(&b, "  state %d (%s) power lost after #%d %s -> %s [%s]; lost: %s", s.ID, s.Kind, s.After, s.Call, s.Name, s.OnDisk, s.Lost)
			if len(s.Leftovers) > 0 {
				fmt.Fprintf(&b, "; left behind: %s", strings.Join(s.Leftovers, ", "))
			}
			fmt.Fprintf(&b, " -> %s%s", s.Verdict, down)
			if s.Detail != "" {
				fmt.Fprintf(&b, ": %s", s.Detail)
			}
			b.WriteString("\n")
		}
		if k := u.Kernel; k != nil {
			fmt.Fprintf(&b, "kernel check (%s): %s\n", k.Device, KernelSummary(k))
			for _, s := range k.States {
				fmt.Fprintf(&b, "  kernel state %d: log entry %d %s (after mark %s) -> %s [%s]; in the model: %t%s -> %s\n", s.ID, s.Entry, s.What, s.Mark, s.Name, s.OnDisk, s.InModel, orPages(s.Pages), s.Verdict)
			}
		}
	}
	if pl.Missed != nil {
		fmt.Fprintf(&b, "MODEL MISSED: %s\n", *pl.Missed)
	}
	return b.String()
}

// htmlState is one crash state as report.html shows it: a line to open,
// and its facts.
type htmlState struct {
	Summary string
	Verdict string
	Facts   []fact
}

// htmlStates lists the crash states of a power-loss trace, nil otherwise.
func htmlStates(pl *results.PowerLossTrace) []htmlState {
	if pl == nil {
		return nil
	}
	var out []htmlState
	for _, u := range pl.Updates {
		for _, s := range u.States {
			sum := fmt.Sprintf("update %s, state %d (%s): %s -> %s", u.Update, s.ID, s.Kind, s.Name, s.Verdict)
			if s.Down {
				sum += ", down"
			}
			facts := []fact{{Label: "power lost after", Value: fmt.Sprintf("#%d %s", s.After, s.Call), Code: true},
				{Label: "lost", Value: s.Lost}, {Label: "on disk", Value: s.OnDisk}}
			if len(s.Leftovers) > 0 {
				facts = append(facts, fact{Label: "left behind", Value: strings.Join(s.Leftovers, ", "), Code: true})
			}
			facts = append(facts, fact{Label: "verdict", Value: s.Verdict.String()})
			if s.Detail != "" {
				facts = append(facts, fact{Label: "detail", Value: s.Detail})
			}
			out = append(out, htmlState{Summary: sum, Verdict: s.Verdict.String(), Facts: facts})
		}
		out = append(out, htmlKernelStates(u)...)
	}
	return out
}

// htmlKernelStates lists the states the kernel check of u found, nil
// without one.
func htmlKernelStates(u results.PowerLossUpdate) []htmlState {
	k := u.Kernel
	if k == nil {
		return nil
	}
	var out []htmlState
	for _, s := range k.States {
		sum := fmt.Sprintf("update %s, kernel state %d: %s -> %s", u.Update, s.ID, s.Name, s.Verdict)
		if !s.InModel {
			sum += ", NOT IN THE MODEL"
		}
		if s.Down {
			sum += ", down"
		}
		in := fmt.Sprintf("yes: a crash after #%d, names as after #%d", s.After, s.Meta)
		if !s.InModel {
			in = "no, a bug in the model: " + s.Pages
		}
		facts := []fact{{Label: "replayed to", Value: fmt.Sprintf("log entry %d (%s), after mark %s; %d replays", s.Entry, s.What, s.Mark, s.Replays)},
			{Label: "kernel", Value: k.Device}, {Label: "in the model", Value: in}, {Label: "on disk", Value: s.OnDisk}, {Label: "lost", Value: s.Lost}}
		if len(s.Leftovers) > 0 {
			facts = append(facts, fact{Label: "left behind", Value: strings.Join(s.Leftovers, ", "), Code: true})
		}
		facts = append(facts, fact{Label: "verdict", Value: s.Verdict.String()})
		if s.Detail != "" {
			facts = append(facts, fact{Label: "detail", Value: s.Detail})
		}
		out = append(out, htmlState{Summary: sum, Verdict: s.Verdict.String(), Facts: facts})
	}
	return out
}

// htmlEvidence is e's evidence without the crash-state lines that
// report.html shows as states to open.
func htmlEvidence(e Entry) evidence {
	ev := evidenceOf(e)
	if e.PowerLoss == nil {
		return ev
	}
	var keep []block
	for _, b := range ev.Blocks {
		if b.Label != "crash states" {
			keep = append(keep, b)
		}
	}
	ev.Blocks = keep
	return ev
}

// orPages is " (PAGES)" for a state not in the model, "" otherwise.
func orPages(p string) string {
	if p == "" {
		return ""
	}
	return " (" + p + ")"
}
