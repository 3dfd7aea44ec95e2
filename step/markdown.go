package step

import (
	"fmt"
	"strings"

	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/results"
)

// Markdown renders the step sequences of a step-mode report as a Markdown
// section ("## Step sequences"), to follow the report's own Markdown: for
// each writer and stepped update, a table of the distinct states (the
// system call that produced each, what a running and a starting reader
// see, and each reader strategy's outcome as running / starting), the
// first unsafe state, and a table of the kill points. It returns "" when
// no entry has a step trace.
func Markdown(r reports.Report) string {
	type group struct {
		writer  string
		entries []reports.Entry
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
				mdCode(u.Command), mdText(u.Exit), u.Calls, u.Stops, u.Probes)
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
					call = mdCode(st.Call)
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
			left[i] = mdCode(l)
		}
		fmt.Fprintf(b, "| #%d | %s | %s | %s |\n", k.After, mdCode(k.Call), found, strings.Join(left, ", "))
	}
}

// mdText escapes s to show as plain text on one line, also in a table.
func mdText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_[]<>|#!~&", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// mdCode puts s in a code span that s cannot close; a | is escaped for
// tables.
func mdCode(s string) string {
	s = strings.ReplaceAll(strings.Join(strings.Fields(s), " "), "|", `\|`)
	n := 1
	for run := 0; ; n++ {
		run = strings.Count(s, strings.Repeat("`", n))
		if run == 0 {
			break
		}
	}
	tick := strings.Repeat("`", n)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return tick + s + tick
}
