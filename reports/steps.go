package reports

import (
	"fmt"
	"strings"

	"github.com/mapchaos/mapchaos/results"
)

// stepSequences renders the step sequences of a step-mode report as a
// Markdown section ("## Step sequences"), the last of report.md: for
// each writer and stepped update, a table of the distinct states (the
// system call that produced each, what a running and a starting reader
// see, and each reader strategy's outcome as running / starting), the
// first unsafe state, and a table of the kill points. It returns "" when
// no entry has a step trace.
func stepSequences(r Report) string {
	type group struct {
		writer  string
		entries []Entry
	}
	var groups []*group
	byWriter := map[string]*group{}
	for _, e := range r.Results {
		if e.Step == nil {
			continue
		}
		g := byWriter[e.Writer]
		if g == nil {
			g = &group{writer: e.Writer}
			byWriter[e.Writer] = g
			groups = append(groups, g)
		}
		g.entries = append(g.entries, e)
	}
	if len(groups) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("## Step sequences\n\n")
	b.WriteString("Each state below was seen at a real stop of the writer process under ptrace, right after the system call shown. " +
		"*Running* is what a reader that mapped the target before the update can read through its mapping; *starting* is what a reader " +
		"that opens the target in that state finds. Reader cells show the outcome as running / starting.\n")
	for _, g := range groups {
		first := g.entries[0].Step
		for ui, u := range first.Updates {
			fmt.Fprintf(&b, "\n### %s, update %s\n\n", mdText(g.writer), mdText(u.Update))
			fmt.Fprintf(&b, "%s: %s; %d system calls on the target or its directory, %d ptrace stops, %d probes.\n\n",
				mdCell(u.Command), mdText(u.Exit), u.Calls, u.Stops, u.Probes)
			b.WriteString("| # | system call | running reader | starting reader |")
			for _, e := range g.entries {
				fmt.Fprintf(&b, " %s |", mdText(e.Reader))
			}
			b.WriteString("\n|---|---|---|---|" + strings.Repeat("---|", len(g.entries)) + "\n")
			for si, st := range u.States {
				n := fmt.Sprintf("%d", st.N)
				if st.Unsafe && st.N == u.FirstUnsafe {
					n = fmt.Sprintf("**%d** (first unsafe)", st.N)
				} else if st.Unsafe {
					n += " (unsafe)"
				}
				call := mdText(st.Call)
				if st.N > 0 {
					call = mdCell(st.Call)
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %s |", n, call, mdText(st.Running), mdText(st.Starting))
				for _, e := range g.entries {
					cell := "-"
					if ui < len(e.Step.Updates) && si < len(e.Step.Updates[ui].States) {
						s := e.Step.Updates[ui].States[si]
						cell = s.RunningVerdict.String() + " / " + s.StartingVerdict.String()
					}
					fmt.Fprintf(&b, " %s |", cell)
				}
				b.WriteString("\n")
			}
			if u.FirstUnsafe == 0 {
				b.WriteString("\nNo state was unsafe.\n")
			} else {
				fmt.Fprintf(&b, "\nFirst unsafe state: #%d.\n", u.FirstUnsafe)
			}
			for _, w := range u.Warnings {
				fmt.Fprintf(&b, "\nWarning: %s\n", mdText(w))
			}
			writeKills(&b, u.Kills)
		}
	}
	return b.String()
}

func writeKills(b *strings.Builder, kills []results.StepKill) {
	if len(kills) == 0 {
		return
	}
	broken := 0
	for _, k := range kills {
		if k.Broken {
			broken++
		}
	}
	fmt.Fprintf(b, "\nKilled (SIGKILL) right after each step, in a fresh run each time: %d of %d kill points leave no whole file.\n\n", broken, len(kills))
	b.WriteString("| killed after | system call | a starting reader finds | left behind |\n|---|---|---|---|\n")
	for _, k := range kills {
		found := mdText(k.Found)
		if k.Broken {
			found = "**" + found + "**"
		}
		if k.Note != "" {
			found += " (" + mdText(k.Note) + ")"
		}
		left := make([]string, len(k.LeftBehind))
		for i, l := range k.LeftBehind {
			left[i] = mdCell(l)
		}
		fmt.Fprintf(b, "| #%d | %s | %s | %s |\n", k.After, mdCell(k.Call), found, strings.Join(left, ", "))
	}
}

// mdCell puts s in a code span that can stand in a table cell: on one
// line, its | escaped.
func mdCell(s string) string {
	return mdCode(strings.ReplaceAll(strings.Join(strings.Fields(s), " "), "|", `\|`))
}
