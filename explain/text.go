package explain

import (
	"fmt"
	"strings"
)

// width is where Text wraps its paragraphs.
const width = 100

// Text renders the explanation in plain words: what happened, the likely
// cause, the combinations that reproduce it, and the fixes.
func (x Explanation) Text() string {
	var b strings.Builder
	para := func(indent, s string) {
		b.WriteString(wrap(s, indent, width))
		b.WriteString("\n")
	}
	field := func(label, value string) {
		if value != "" {
			para("    ", "  "+label+": "+value)
		}
	}
	if !x.MemoryFault {
		para("", x.Found)
		field("headline", x.Headline)
		if x.Frame != nil {
			field("frame", frameText(*x.Frame))
		}
		for _, n := range x.Notes {
			para("  ", "Note: "+n)
		}
		return b.String()
	}

	b.WriteString("What happened\n")
	para("  ", "  "+x.Found)
	field("headline", x.Headline)
	if x.Signal != "" {
		sig := fmt.Sprintf("%s (%d)", x.Signal, x.SignalNumber)
		if x.Code != "" {
			sig += ", code " + x.Code
		} else if x.Kind != Recovered {
			sig += ", code not in the input"
		}
		field("signal", sig)
	}
	if x.CodeMeaning != "" {
		field(x.Code, x.CodeMeaning)
	}
	field("address", x.Addr)
	if x.Frame != nil {
		field("faulting frame", frameText(*x.Frame))
	}
	if x.Library != nil {
		lib := x.Library.String()
		if x.Library.Lang != "" {
			lib += " (" + x.Library.Lang + ")"
		}
		if x.Library.Maps != "" {
			lib += ": " + x.Library.Maps
		}
		field("library", lib)
	}
	if len(x.Via) > 0 {
		field("called through", strings.Join(x.Via, ", "))
	}
	if x.Caller != nil {
		field("called from", frameText(*x.Caller))
	}
	field("process", x.Process)
	for _, n := range x.Notes {
		para("    ", "  Note: "+n)
	}

	if x.Cause != "" {
		b.WriteString("\nLikely cause\n")
		para("  ", "  "+x.Cause)
		if len(x.Patterns) > 0 {
			b.WriteString("  Updaters that do this:\n")
			for _, p := range x.Patterns {
				s := "    - " + p.Updater + ": " + p.What
				if p.Writer != "" {
					s += " (mapchaos writer " + p.Writer + ")"
				}
				para("      ", s)
			}
		}
	}

	b.WriteString("\nReproduce it here\n")
	if len(x.Reproduce) > 0 {
		b.WriteString("  ginkgo.yml expects these combinations to show the same fault:\n")
		for _, r := range x.Reproduce {
			b.WriteString("    - " + r.Name() + " (expected " + r.expectedText() + ")\n")
			if r.Command != "" {
				b.WriteString("        $ " + r.Command + "\n")
			}
			if r.Why != "" {
				para("          ", "        why: "+r.Why)
			}
			if r.Note != "" {
				para("          ", "        "+r.Note)
			}
		}
		if len(x.Reproduced) == 0 {
			para("  ", "  `mapchaos explain --reproduce` races them now and compares what they show with this trace.")
		}
	}
	if x.ReproduceNote != "" {
		para("  ", "  "+x.ReproduceNote)
	}
	if len(x.Reproduced) > 0 {
		same := 0
		for _, c := range x.Reproduced {
			if c.Matches() {
				same++
			}
		}
		fmt.Fprintf(&b, "  Raced here: %d of %d combinations showed the same fault.\n", same, len(x.Reproduced))
		for _, c := range x.Reproduced {
			para("        ", "    - "+c.Text)
			if c.Frame != "" {
				b.WriteString("        faulting frame: " + c.Frame + "\n")
			}
			if c.Dir != "" {
				b.WriteString("        files: " + c.Dir + "\n")
			}
		}
	}

	if len(x.Fixes) > 0 {
		b.WriteString("\nFixes, in order of preference\n")
		for i, f := range x.Fixes {
			para("     ", fmt.Sprintf("  %d. %s: %s.", i+1, f.Title, strings.TrimSuffix(f.How, ".")))
			para("     ", "     Cost: "+strings.TrimSuffix(f.Cost, ".")+".")
			if len(f.Here) > 0 {
				para("     ", "     ginkgo.yml expects: "+strings.Join(f.Here, "; "))
			}
		}
	}
	return b.String()
}

func frameText(f Frame) string {
	if f.File == "" {
		return f.Func
	}
	return f.Func + " (" + f.File + ")"
}

// wrap breaks s into lines of at most w columns at spaces; continuation
// lines start with indent. Words longer than a line are left whole.
func wrap(s, indent string, w int) string {
	var b strings.Builder
	line := 0
	lead := len(s) - len(strings.TrimLeft(s, " "))
	b.WriteString(s[:lead])
	line = lead
	for i, word := range strings.Fields(s) {
		if i > 0 && line+1+len(word) > w {
			b.WriteString("\n" + indent)
			line = len(indent)
		} else if i > 0 {
			b.WriteString(" ")
			line++
		}
		b.WriteString(word)
		line += len(word)
	}
	return b.String()
}
