package explain

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mapchaos/mapchaos/crashes"
	"github.com/mapchaos/mapchaos/harness"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/verdicts"
)

// Combination is a writer x reader combination of the matrix with what the
// configuration expects of it.
type Combination struct {
	Writer string `json:"writer"`
	Reader string `json:"reader"`
	// Expected are the verdicts ginkgo.yml allows, Why its reason.
	Expected []verdicts.Verdict `json:"expected"`
	Why      string             `json:"why,omitempty"`
	// Mapped: the reader maps the file; PanicOnFault: it recovers faults.
	Mapped       bool `json:"mapped"`
	PanicOnFault bool `json:"panic_on_fault"`
	// Library is what the reader reads with ("maxminddb-golang v1.13.1").
	Library string `json:"library,omitempty"`
	// Command races the combination here.
	Command string `json:"command,omitempty"`
}

// Name is "cp x mmap".
func (c Combination) Name() string { return c.Writer + " x " + c.Reader }

// expects reports whether v is among the expected verdicts.
func (c Combination) expects(v verdicts.Verdict) bool { return slices.Contains(c.Expected, v) }

// expectedText is "crash" or "recovered|corrupt".
func (c Combination) expectedText() string {
	ws := make([]string, len(c.Expected))
	for i, v := range c.Expected {
		ws[i] = v.String()
	}
	return strings.Join(ws, "|")
}

// Known lists the combinations of a resolved matrix that the configuration
// has an expectation for. library names what the built-in readers read
// with; command, when not nil, gives the command that races a combination.
func Known(p harness.Plan, library string, command func(harness.Combo) string) []Combination {
	var out []Combination
	for _, c := range p.Combos {
		if c.Expected == nil {
			continue
		}
		k := Combination{
			Writer: c.Writer.Name, Reader: c.Reader.Name,
			Expected: c.Expected.Verdicts, Why: c.Expected.Why,
			Mapped: c.Reader.Mapped, PanicOnFault: c.Reader.PanicOnFault,
			Library: library,
		}
		if len(c.Reader.Command) > 0 {
			k.Library = "a foreign reader (" + strings.Join(c.Reader.Command, " ") + ")"
		}
		if command != nil {
			k.Command = command(c)
		}
		out = append(out, k)
	}
	return out
}

// Repro is a known combination expected to show the explained signature.
type Repro struct {
	Combination
	// Note says how its signature compares with the pasted one.
	Note string `json:"note,omitempty"`
}

// Observed is what a real run of one combination showed.
type Observed struct {
	Writer, Reader string
	Verdict        verdicts.Verdict
	// Signal and Code of the evidence (the most severe outcome).
	Signal, Code string
	// Trace is the dead reader's stderr (or the evidence's trace).
	Trace string
	// Faults counts the faults the readers recovered.
	Faults int64
	// Dir is where the run's files are, "" when they were removed.
	Dir string
}

// ObservedFrom takes what Compare needs from a report entry; stderr, when
// not empty, is the whole stderr of the reader the evidence names.
func ObservedFrom(e reports.Entry, stderr string) Observed {
	o := Observed{Writer: e.Writer, Reader: e.Reader, Verdict: e.Verdict, Faults: e.Answers.Faults, Trace: stderr}
	if ev := e.Evidence; ev != nil {
		o.Signal, o.Code = ev.Signal, ev.Code
		if o.Trace == "" {
			o.Trace = ev.Stderr
		}
	}
	return o
}

// Match grades how an observed run compares with the pasted signature.
type Match string

// The grades, from best to worst.
const (
	Same            Match = "same"            // same signal, code and library
	SameSignal      Match = "same-signal"     // same signal and code; the pasted library is unknown
	LibraryDiffers  Match = "library-differs" // same signal and code, another library
	SignalDiffers   Match = "signal-differs"  // another signal or code
	NoFaultObserved Match = "no-fault"        // the run showed no fault at all
)

// Comparison is the outcome of Compare.
type Comparison struct {
	Writer  string `json:"writer"`
	Reader  string `json:"reader"`
	Verdict string `json:"verdict"`
	Signal  string `json:"signal,omitempty"`
	Code    string `json:"code,omitempty"`
	Library string `json:"library,omitempty"`
	Frame   string `json:"frame,omitempty"`
	Faults  int64  `json:"faults_recovered,omitempty"`
	Match   Match  `json:"match"`
	// Text says it in a sentence.
	Text string `json:"text"`
	Dir  string `json:"dir,omitempty"`
}

// Matches reports whether the run showed the same fault (in any library).
func (c Comparison) Matches() bool {
	return c.Match == Same || c.Match == SameSignal || c.Match == LibraryDiffers
}

// Compare checks what a real run observed against the explained signature:
// same signal and si_code (an unknown pasted code matches any), same
// library at the faulting frame. For a recovered fault, a run whose readers
// recovered faults matches.
func (x Explanation) Compare(o Observed) Comparison {
	c := Comparison{Writer: o.Writer, Reader: o.Reader, Verdict: o.Verdict.String(), Signal: o.Signal, Code: o.Code, Faults: o.Faults, Dir: o.Dir}
	t := crashes.Parse(o.Trace)
	if c.Signal == "" {
		c.Signal, c.Code = t.Signal, t.CodeName
	}
	ff := faultFrames(t.Frames)
	if lib, _, _ := blame(ff); lib != nil {
		c.Library = lib.String()
	}
	if len(ff) > 0 {
		c.Frame = ff[0].Func
	}
	want := x.Signature()
	name := o.Writer + " x " + o.Reader
	unknownLib := x.Library == nil || x.Library.Module == ""
	sameLib := strings.HasPrefix(c.Library, want.Library+" ") || c.Library == want.Library
	switch {
	case x.Kind == Recovered && o.Faults > 0:
		c.Match = Same
		c.Text = fmt.Sprintf("%s: its readers recovered %d memory faults (most severe outcome: %s): the same kind of event as the pasted one.", name, o.Faults, c.Verdict)
		return c
	case c.Signal == "":
		c.Match = NoFaultObserved
		c.Text = fmt.Sprintf("%s: %s, with no memory fault this time: timing decides; run it again or with more updates.", name, c.Verdict)
		return c
	case c.Signal != want.Signal || want.Code != "" && c.Code != want.Code:
		c.Match = SignalDiffers
		c.Text = fmt.Sprintf("%s: %s with %s; the pasted fault is %s: a different signature.", name, c.Verdict, sigCode(c.Signal, c.Code), sigCode(want.Signal, want.Code))
		return c
	case unknownLib:
		c.Match = SameSignal
		c.Text = fmt.Sprintf("%s: %s with %s in %s: the same signal and code; the pasted output does not name its library.", name, c.Verdict, sigCode(c.Signal, c.Code), orUnknown(c.Library))
		return c
	case !sameLib:
		c.Match = LibraryDiffers
		c.Text = fmt.Sprintf("%s: %s with %s in %s: the same fault; the pasted one is in %s, which reads the file the same way.", name, c.Verdict, sigCode(c.Signal, c.Code), orUnknown(c.Library), want.Library)
		return c
	}
	c.Match = Same
	c.Text = fmt.Sprintf("%s: %s with %s in %s: the same signature as the pasted trace.", name, c.Verdict, sigCode(c.Signal, c.Code), orUnknown(c.Library))
	return c
}

func sigCode(sig, code string) string {
	if code == "" {
		return sig
	}
	return sig + " " + code
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown library"
	}
	return s
}
