package reports

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mapchaos/mapchaos/results"
	"github.com/mapchaos/mapchaos/verdicts"
)

// This file holds what the renderers share: the matrix, the wording of a
// cell, and the evidence of an entry as labelled facts.

// combo names one writer x reader combination.
type combo struct{ writer, reader string }

// matrix lays entries out with writers as rows and readers as columns,
// both sorted.
type matrix struct {
	writers, readers []string
	cells            map[combo]Entry
}

// newMatrix builds the matrix of results. Should a combination appear
// twice, the more severe entry is shown (the first on a tie).
func newMatrix(results []Entry) matrix {
	m := matrix{cells: make(map[combo]Entry, len(results))}
	for _, e := range results {
		k := combo{e.Writer, e.Reader}
		if old, ok := m.cells[k]; ok && old.Verdict >= e.Verdict {
			continue
		}
		m.cells[k] = e
		m.writers = append(m.writers, e.Writer)
		m.readers = append(m.readers, e.Reader)
	}
	m.writers = sortedUnique(m.writers)
	m.readers = sortedUnique(m.readers)
	return m
}

// at returns the entry of writer w and reader r, if the run had it.
func (m matrix) at(w, r string) (Entry, bool) {
	e, ok := m.cells[combo{w, r}]
	return e, ok
}

func sortedUnique(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// missing is shown for a combination a run did not have.
const missing = "—"

// unmet reports whether e failed its expectation.
func unmet(e Entry) bool { return !e.Met }

// verdictText is the verdict word, or the running/starting split when the
// two roles disagree: "crash (running) / degraded (starting)".
func verdictText(e Entry) string {
	run, okRun := e.Roles[results.Running]
	start, okStart := e.Roles[results.Starting]
	if okRun && okStart && run.Verdict != start.Verdict {
		return fmt.Sprintf("%s (running) / %s (starting)", run.Verdict, start.Verdict)
	}
	return e.Verdict.String()
}

// unmetText is the marker of a failed expectation, "" when it was met:
// "✗ (expected safe)", or "✗" when no verdict was expected.
func unmetText(e Entry) string {
	switch {
	case !unmet(e):
		return ""
	case e.WriterError != "":
		return "✗ (the writer itself failed)"
	case e.Expected == "":
		return "✗"
	default:
		return "✗ (expected " + e.Expected + ")"
	}
}

// cellText is the whole text of a matrix cell.
func cellText(e Entry) string {
	if u := unmetText(e); u != "" {
		return verdictText(e) + " " + u
	}
	return verdictText(e)
}

// entries returns the entries of the matrix by writer, then reader.
func (m matrix) entries() []Entry {
	out := make([]Entry, 0, len(m.cells))
	for _, w := range m.writers {
		for _, r := range m.readers {
			if e, ok := m.at(w, r); ok {
				out = append(out, e)
			}
		}
	}
	return out
}

// needsSection reports whether e gets its own section: a verdict that is
// not safe, or a writer that failed.
func needsSection(e Entry) bool {
	return e.Verdict != verdicts.Safe || e.WriterError != ""
}

// sections returns the entries of m that get a section, most severe first,
// then by writer and reader. With steps, a safe entry of step mode gets one
// too: its sequence of states is the evidence that it is safe.
func (m matrix) sections(steps bool) []Entry {
	var out []Entry
	for _, e := range m.entries() {
		if needsSection(e) || (steps && (e.Step != nil || e.PowerLoss != nil)) {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b Entry) int { return cmp.Compare(b.Verdict, a.Verdict) })
	return out
}

// failures returns the entries of m whose expectation failed, by writer
// and reader.
func (m matrix) failures() []Entry {
	var out []Entry
	for _, e := range m.entries() {
		if unmet(e) {
			out = append(out, e)
		}
	}
	return out
}

// fact is one labelled value. Code marks values that are identifiers,
// addresses or program text rather than words, to be shown in a
// monospaced font.
type fact struct {
	Label, Value string
	Code         bool
}

// block is a labelled piece of multi-line text: a trace, stderr, a command.
type block struct{ Label, Text string }

// evidence is what the renderers show for one entry.
type evidence struct {
	Facts  []fact
	Blocks []block
}

// evidenceOf gathers the facts of e that are set, in the order a reader of
// a postmortem wants them, and its multi-line texts.
func evidenceOf(e Entry) evidence {
	var ev evidence
	add := func(label, value string) {
		if value != "" {
			ev.Facts = append(ev.Facts, fact{Label: label, Value: value})
		}
	}
	code := func(label, value string) {
		if value != "" {
			ev.Facts = append(ev.Facts, fact{Label: label, Value: value, Code: true})
		}
	}
	addBlock := func(label, text string) {
		if strings.TrimSpace(text) != "" {
			ev.Blocks = append(ev.Blocks, block{label, strings.TrimRight(text, "\n")})
		}
	}
	add("verdict", verdictText(e))
	if e.Expected != "" || unmet(e) {
		add("expected", expectationText(e))
	}
	add("counts", countsText(e.Counts))
	if x := e.Evidence; x != nil {
		add("outcome", x.Outcome.String())
		add("reader", readerText(x))
		code("signal", signalText(x))
		code("code", x.Code)
		code("addr", x.Addr)
		code("exit status", x.ExitStatus)
		code("fatal", oneLine(x.Fatal))
		code("writer step", oneLine(x.WriterStep))
		add("at", msText(x.AtMS)+" after the first update")
		code("last lookups", strings.Join(x.LastLookups, ", "))
		add("detail", oneLine(x.Detail))
	}
	if e.FirstFailureMS != nil {
		add("first failure", msText(*e.FirstFailureMS)+" after the first update")
	}
	add("lookups", fmt.Sprintf("%d in %d updates", e.Lookups, e.Updates))
	code("writer error", oneLine(e.WriterError))
	if x := e.Evidence; x != nil {
		if multiLine(x.Fatal) {
			addBlock("fatal", x.Fatal)
		}
		if multiLine(x.Detail) {
			addBlock("detail", x.Detail)
		}
		addBlock("trace", x.Trace)
		addBlock("stderr", x.Stderr)
		addBlock("repro", x.Repro)
	}
	if multiLine(e.WriterError) {
		addBlock("writer error", e.WriterError)
	}
	addBlock("step sequence", stepText(e.Step))
	addBlock("crash states", powerLossText(e.PowerLoss))
	return ev
}

// stepText renders what step mode saw: per update, each distinct state
// with the call that produced it and this reader's outcome in both roles,
// then what killing the writer after each step left.
func stepText(st *results.StepTrace) string {
	if st == nil {
		return ""
	}
	var b strings.Builder
	for _, u := range st.Updates {
		fmt.Fprintf(&b, "update %s: %s (%d calls, %d ptrace stops, %d probes)\n", u.Update, u.Exit, u.Calls, u.Stops, u.Probes)
		for _, s := range u.States {
			mark := ""
			if s.N != 0 && s.N == u.FirstUnsafe {
				mark = "   <- first unsafe state"
			}
			fmt.Fprintf(&b, "  #%d %s -> running: %s (%s); starting: %s (%s)%s\n",
				s.N, s.Call, s.Running, s.RunningVerdict, s.Starting, s.StartingVerdict, mark)
		}
		for _, k := range u.Kills {
			fmt.Fprintf(&b, "  killed after #%d %s -> %s\n", k.After, k.Call, k.Found)
		}
	}
	return b.String()
}

// expectationText says what was expected and whether it held.
func expectationText(e Entry) string {
	exp := e.Expected
	if exp == "" {
		exp = "nothing configured"
	}
	if unmet(e) {
		return exp + " (not met)"
	}
	return exp + " (met)"
}

// multiLine reports whether s holds more than one line.
func multiLine(s string) bool { return strings.Contains(strings.TrimRight(s, "\n"), "\n") }

// oneLine returns s when it is a single line, and "" when it is not (the
// renderers then show it as a block).
func oneLine(s string) string {
	if multiLine(s) {
		return ""
	}
	return strings.TrimRight(s, "\n")
}

// readerText names the reader process and its role: "running-1 (running)".
func readerText(x *results.Evidence) string {
	switch {
	case x.Reader != "" && x.Role != "":
		return fmt.Sprintf("%s (%s)", x.Reader, x.Role)
	case x.Reader != "":
		return x.Reader
	default:
		return string(x.Role)
	}
}

// signalText is "SIGBUS (7)", or just the name or number that is known.
func signalText(x *results.Evidence) string {
	switch {
	case x.Signal != "" && x.SignalNumber != 0:
		return fmt.Sprintf("%s (%d)", x.Signal, x.SignalNumber)
	case x.Signal != "":
		return x.Signal
	case x.SignalNumber != 0:
		return "signal " + strconv.Itoa(x.SignalNumber)
	}
	return ""
}

// countsText lists the non-zero counts in severity order: "safe 3, crash 1".
func countsText(c verdicts.Counts) string {
	var parts []string
	for _, v := range verdicts.All {
		if c[v] != 0 {
			parts = append(parts, fmt.Sprintf("%s %d", v, c[v]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// msText is a duration in milliseconds in Go's notation: "1.5s", "250ms".
func msText(ms int64) string { return (time.Duration(ms) * time.Millisecond).String() }

// envFacts describes the environment of a run, for the header of a report.
func envFacts(r Run) []fact {
	var fs []fact
	add := func(label, value string) {
		if value != "" {
			fs = append(fs, fact{Label: label, Value: value})
		}
	}
	if r.GOOS != "" || r.GOARCH != "" {
		add("platform", r.GOOS+"/"+r.GOARCH)
	}
	add("emulation", r.Emulation)
	add("kernel", r.Kernel)
	if r.PageSize != 0 {
		add("page size", strconv.Itoa(r.PageSize))
	}
	add("fs", r.FS)
	add("go", r.Go)
	add("seed", strconv.FormatInt(r.Seed, 10))
	mode := r.Mode
	if r.Requested != "" && r.Requested != r.Mode {
		mode += " (requested " + r.Requested + ")"
	}
	add("mode", mode)
	add("duration", msText(r.DurationMS))
	add("started", r.Started)
	add("host", r.Host)
	add("config", r.Config)
	add("fixture", r.Fixture)
	return fs
}

// moduleFacts lists the module versions sorted by path.
func moduleFacts(mods map[string]string) []fact {
	fs := make([]fact, 0, len(mods))
	for p, v := range mods {
		fs = append(fs, fact{Label: p, Value: v, Code: true})
	}
	slices.SortFunc(fs, func(a, b fact) int { return cmp.Compare(a.Label, b.Label) })
	return fs
}

// legendItem is one word of the legend.
type legendItem struct {
	Verdict verdicts.Verdict
	Meaning string
}

// legend returns the six words and their meanings, least severe first.
func legend() []legendItem {
	out := make([]legendItem, len(verdicts.All))
	for i, v := range verdicts.All {
		out[i] = legendItem{v, meanings[v]}
	}
	return out
}
