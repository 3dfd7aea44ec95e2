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
	t := &textWriter{}
	if !x.MemoryFault {
		t.para("", x.Found)
		t.field("headline", x.Headline)
		if x.Frame != nil {
			t.field("frame", frameText(*x.Frame))
		}
		for _, n := range x.Notes {
			t.para("  ", "Note: "+n)
		}
		return t.String()
	}
	x.writeHappened(t)
	x.writeCause(t)
	x.writeReproduce(t)
	x.writeFixes(t)
	return t.String()
}

// textWriter wraps paragraphs at width.
type textWriter struct{ strings.Builder }

// para writes s wrapped, later lines indented by indent.
func (t *textWriter) para(indent, s string) {
	t.WriteString(wrap(s, indent, width))
	t.WriteString("\n")
}

// field writes "  label: value" when value is not empty.
func (t *textWriter) field(label, value string) {
	if value != "" {
		t.para("    ", "  "+label+": "+value)
	}
}

// writeHappened writes "What happened": the signal, the frame, the library.
func (x Explanation) writeHappened(t *textWriter) {
	t.WriteString("What happened\n")
	t.para("  ", "  "+x.Found)
	t.field("headline", x.Headline)
	if x.Signal != "" {
		sig := fmt.Sprintf("%s (%d)", x.Signal, x.SignalNumber)
		if x.Code != "" {
			sig += ", code " + x.Code
		} else if x.Kind != Recovered {
			sig += ", code not in the input"
		}
		t.field("signal", sig)
	}
	if x.CodeMeaning != "" {
		t.field(x.Code, x.CodeMeaning)
	}
	t.field("address", x.Addr)
	if x.Frame != nil {
		t.field("faulting frame", frameText(*x.Frame))
	}
	if x.Library != nil {
		lib := x.Library.String()
		if x.Library.Lang != "" {
			lib += " (" + x.Library.Lang + ")"
		}
		if x.Library.Maps != "" {
			lib += ": " + x.Library.Maps
		}
		t.field("library", lib)
	}
	if len(x.Via) > 0 {
		t.field("called through", strings.Join(x.Via, ", "))
	}
	if x.Caller != nil {
		t.field("called from", frameText(*x.Caller))
	}
	t.field("process", x.Process)
	for _, n := range x.Notes {
		t.para("    ", "  Note: "+n)
	}
}

// writeCause writes "Likely cause" and the updaters that do it.
func (x Explanation) writeCause(t *textWriter) {
	if x.Cause == "" {
		return
	}
	t.WriteString("\nLikely cause\n")
	t.para("  ", "  "+x.Cause)
	if len(x.Patterns) == 0 {
		return
	}
	t.WriteString("  Updaters that do this:\n")
	for _, p := range x.Patterns {
		s := "    - " + p.Updater + ": " + p.What
		if p.Writer != "" {
			s += " (mapchaos writer " + p.Writer + ")"
		}
		t.para("      ", s)
	}
}

// writeReproduce writes "Reproduce it here": the combinations that should
// show the fault, and what racing them here showed.
func (x Explanation) writeReproduce(t *textWriter) {
	t.WriteString("\nReproduce it here\n")
	if len(x.Reproduce) > 0 {
		t.WriteString("  ginkgo.yml expects these combinations to show the same fault:\n")
		for _, r := range x.Reproduce {
			t.WriteString("    - " + r.Name() + " (expected " + r.expectedText() + ")\n")
			if r.Command != "" {
				t.WriteString("        $ " + r.Command + "\n")
			}
			if r.Why != "" {
				t.para("          ", "        why: "+r.Why)
			}
			if r.Note != "" {
				t.para("          ", "        "+r.Note)
			}
		}
		if len(x.Reproduced) == 0 {
			t.para("  ", "  `mapchaos explain --reproduce` races them now and compares what they show with this trace.")
		}
	}
	if x.ReproduceNote != "" {
		t.para("  ", "  "+x.ReproduceNote)
	}
	x.writeReproduced(t)
}

// writeReproduced writes what racing the combinations here showed.
func (x Explanation) writeReproduced(t *textWriter) {
	if len(x.Reproduced) == 0 {
		return
	}
	same := 0
	for _, c := range x.Reproduced {
		if c.Matches() {
			same++
		}
	}
	fmt.Fprintf(t, "  Raced here: %d of %d combinations showed the same fault.\n", same, len(x.Reproduced))
	for _, c := range x.Reproduced {
		t.para("        ", "    - "+c.Text)
		if c.Frame != "" {
			t.WriteString("        faulting frame: " + c.Frame + "\n")
		}
		if c.Dir != "" {
			t.WriteString("        files: " + c.Dir + "\n")
		}
	}
}

// writeFixes writes the fixes, in order of preference, with their cost.
func (x Explanation) writeFixes(t *textWriter) {
	if len(x.Fixes) == 0 {
		return
	}
	t.WriteString("\nFixes, in order of preference\n")
	for i, f := range x.Fixes {
		t.para("     ", fmt.Sprintf("  %d. %s: %s.", i+1, f.Title, strings.TrimSuffix(f.How, ".")))
		t.para("     ", "     Cost: "+strings.TrimSuffix(f.Cost, ".")+".")
		if len(f.Here) > 0 {
			t.para("     ", "     ginkgo.yml expects: "+strings.Join(f.Here, "; "))
		}
	}
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
