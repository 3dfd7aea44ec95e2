package reports

import (
	"fmt"
	"strings"
)

// Markdown renders r as a Markdown document to paste into a postmortem: a
// title; the verdict matrix first, with writers as rows and readers as
// columns (both sorted), where a cell shows the running/starting split when
// the two disagree and a ✗ when the expectation was not met; a legend; the
// environment in one paragraph; and a section with evidence, trace and
// repro command for every combination that was not safe, most severe first.
func Markdown(r Report) string {
	var b strings.Builder
	b.WriteString("# mapchaos report\n\n")

	m := newMatrix(r.Results)
	b.WriteString("## Verdicts\n\n")
	if len(m.cells) == 0 {
		b.WriteString("No combinations were run.\n\n")
	} else {
		writeMarkdownMatrix(&b, m)
		writeMarkdownExpectations(&b, m)
	}

	b.WriteString("### Legend\n\n| word | meaning |\n|---|---|\n")
	for _, l := range legend() {
		fmt.Fprintf(&b, "| `%s` | %s |\n", l.Verdict, mdText(l.Meaning))
	}
	b.WriteString("\n## Environment\n\n")
	writeMarkdownEnv(&b, r.Run)

	for i, e := range m.sections(false) {
		if i > 0 { // the environment ends with a blank line
			b.WriteString("\n")
		}
		writeMarkdownSection(&b, e)
	}
	if steps := stepSequences(r); steps != "" {
		b.WriteString("\n" + steps)
	}
	if states := crashStates(r); states != "" {
		b.WriteString("\n" + states)
	}
	return b.String()
}

// writeMarkdownEnv writes the environment paragraph, the modules and the
// warnings of a run.
func writeMarkdownEnv(b *strings.Builder, run Run) {
	b.WriteString(joinFacts(envFacts(run)))
	b.WriteString(".\n\n")
	if mods := moduleFacts(run.Modules); len(mods) > 0 {
		b.WriteString("Modules: ")
		b.WriteString(joinFacts(mods))
		b.WriteString(".\n\n")
	}
	if len(run.Warnings) > 0 {
		b.WriteString("Warnings:\n\n")
		for _, w := range run.Warnings {
			fmt.Fprintf(b, "- %s\n", mdText(w))
		}
		b.WriteString("\n")
	}
}

// joinFacts writes facts as "label value, label value".
func joinFacts(fs []fact) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = mdText(f.Label) + " " + mdValue(f)
	}
	return strings.Join(parts, ", ")
}

// mdValue is the value of f as Markdown: a code span or escaped text.
func mdValue(f fact) string {
	if f.Code {
		return mdCode(f.Value)
	}
	return mdText(f.Value)
}

// writeMarkdownMatrix writes the verdict table.
func writeMarkdownMatrix(b *strings.Builder, m matrix) {
	b.WriteString("| writer \\ reader |")
	for _, rd := range m.readers {
		fmt.Fprintf(b, " %s |", mdText(rd))
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat("---|", len(m.readers)))
	b.WriteString("\n")
	for _, w := range m.writers {
		fmt.Fprintf(b, "| **%s** |", mdText(w))
		for _, rd := range m.readers {
			text := missing
			if e, ok := m.at(w, rd); ok {
				text = mdText(cellText(e))
			}
			fmt.Fprintf(b, " %s |", text)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

// writeMarkdownExpectations says how many expectations held, naming those
// that did not.
func writeMarkdownExpectations(b *strings.Builder, m matrix) {
	bad := m.failures()
	if len(bad) == 0 {
		fmt.Fprintf(b, "All %d expectations met.\n\n", len(m.cells))
		return
	}
	fmt.Fprintf(b, "**%d of %d expectations not met:**\n\n", len(bad), len(m.cells))
	for _, e := range bad {
		fmt.Fprintf(b, "- %s × %s: %s\n", mdText(e.Writer), mdText(e.Reader), mdText(observedText(e)))
	}
	b.WriteString("\n")
}

// observedText says what was expected and what was seen.
func observedText(e Entry) string {
	if e.Expected == "" {
		return "observed " + e.Verdict.String() + ", no expectation configured"
	}
	return "expected " + e.Expected + ", observed " + e.Verdict.String()
}

// writeMarkdownSection writes the evidence of one combination.
func writeMarkdownSection(b *strings.Builder, e Entry) {
	fmt.Fprintf(b, "## %s × %s: %s\n\n", mdText(e.Writer), mdText(e.Reader), mdText(cellText(e)))
	ev := evidenceOf(e)
	for _, f := range ev.Facts {
		fmt.Fprintf(b, "- %s: %s\n", mdText(f.Label), mdValue(f))
	}
	for _, bl := range ev.Blocks {
		lang := "text"
		if bl.Label == "repro" {
			lang = "sh"
		}
		fmt.Fprintf(b, "\n%s:\n\n%s", mdText(bl.Label), mdFence(bl.Text, lang))
	}
}

// mdCode puts s in a code span that s cannot close. Line breaks become
// spaces, as a code span would show them anyway.
func mdCode(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	tick := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return tick + s + tick
}

// mdFence puts text in a fenced code block that text cannot close.
func mdFence(text, lang string) string {
	fence := strings.Repeat("`", max(3, longestRun(text, '`')+1))
	return fence + lang + "\n" + text + "\n" + fence + "\n"
}

// longestRun returns the length of the longest run of c in s.
func longestRun(s string, c byte) int {
	best, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}

// mdSpecial are the characters that could start Markdown or HTML syntax
// inside a line of text.
const mdSpecial = "\\`*_[]<>|#!~&"

// mdText escapes s so that it shows as plain text on one line, also inside
// a table cell.
func mdText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(mdSpecial, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
