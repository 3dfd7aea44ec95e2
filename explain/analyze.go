package explain

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/mapchaos/mapchaos/crashes"
	"github.com/mapchaos/mapchaos/internal/lazyre"
)

// Schema names the format of the JSON form of an Explanation.
const Schema = "mapchaos.explain/v1"

// Kind says what Analyze found.
type Kind string

// The kinds of finding, from a memory fault to nothing.
const (
	// Fault: a Go program died of a memory fault (fatal error: fault, or
	// a fault that SetPanicOnFault made a panic that nothing recovered).
	Fault Kind = "fault"
	// Recovered: a memory fault was caught inside the process and it went
	// on (SetPanicOnFault + recover, or the JVM's InternalError).
	Recovered Kind = "recovered"
	// Killed: a process was killed by SIGBUS or SIGSEGV, with no Go trace
	// (a foreign reader, or a Go trace that was not captured).
	Killed Kind = "killed"
	// Other: a failure that is not a memory fault (a panic, a deadlock,
	// an OOM kill ...).
	Other Kind = "other"
	// Nothing: nothing that looks like a crash.
	Nothing Kind = "none"
)

// Explanation is what Analyze makes of a trace. Its JSON form is the
// output of `mapchaos explain --json`.
type Explanation struct {
	Schema string `json:"schema"`
	Kind   Kind   `json:"kind"`
	// MemoryFault is true for Fault, Recovered and Killed.
	MemoryFault bool `json:"memory_fault"`
	// Found says in one sentence what the input shows.
	Found        string `json:"found"`
	Signal       string `json:"signal,omitempty"`
	SignalNumber int    `json:"signal_number,omitempty"`
	// Code is the si_code name (BUS_ADRERR), "" when the input lacks it.
	Code        string `json:"code,omitempty"`
	CodeMeaning string `json:"code_meaning,omitempty"`
	Addr        string `json:"addr,omitempty"`
	// Headline is the line that says what died: "fatal error: fault",
	// "Bus error (core dumped)".
	Headline string `json:"headline,omitempty"`
	// Frame is the faulting frame: the first frame outside the runtime.
	Frame *Frame `json:"frame,omitempty"`
	// Frames are the frames from the faulting one on (at most 8).
	Frames []Frame `json:"frames,omitempty"`
	// Library is the reader library where the fault happened.
	Library *Library `json:"library,omitempty"`
	// Via lists the libraries that called it (geoip2-golang).
	Via []string `json:"via,omitempty"`
	// Caller is the first frame of the application above the libraries.
	Caller *Frame `json:"caller,omitempty"`
	// Process is the command line of a foreign process, when the input
	// names it ("python3 reader.py").
	Process string `json:"process,omitempty"`
	// Cause is the likely cause, in words; Patterns the updaters that
	// produce it.
	Cause    string    `json:"cause,omitempty"`
	Patterns []Pattern `json:"patterns,omitempty"`
	// Reproduce lists the known combinations expected to show the same
	// signature; ReproduceNote says why there are none, or what differs.
	Reproduce     []Repro `json:"reproduce,omitempty"`
	ReproduceNote string  `json:"reproduce_note,omitempty"`
	// Reproduced holds what a real run of those combinations showed, when
	// the caller ran them (Compare).
	Reproduced []Comparison `json:"reproduced,omitempty"`
	// Fixes, in order of preference.
	Fixes []Fix    `json:"fixes,omitempty"`
	Notes []string `json:"notes,omitempty"`
	// Volume names the shared volume (NFS) the file is on, when the input
	// or the caller says so (OnSharedVolume): the advice is for it.
	Volume string `json:"volume,omitempty"`
}

// Signature is what two faults must share to be "the same": signal, si_code
// and the library where the fault happened.
type Signature struct {
	Signal, Code, Library string
}

// Signature returns the signature of the explained fault.
func (x Explanation) Signature() Signature {
	s := Signature{Signal: x.Signal, Code: x.Code}
	if x.Library != nil {
		s.Library = x.Library.Name
	}
	return s
}

// Analyze explains a pasted trace. known are the combinations of the
// matrix (see Known); those expected to show the same signature are listed
// as reproductions. Input with nothing in it gives Kind Nothing. Its time
// is linear in the size of text; it fails only when ctx ends first, with
// an error that wraps ctx.Err() (it looks between its stages and every
// few thousand lines).
func Analyze(ctx context.Context, text string, known []Combination) (Explanation, error) {
	c, err := clean(ctx, text)
	if err != nil {
		return Explanation{}, err
	}
	t := crashes.Parse(c.text)
	if fixed, ok := withHeader(c.text); ok {
		t = crashes.Parse(fixed)
		c.notes = append(c.notes, "The trace was cut at the top (its first goroutine header is missing): the frames were read without it.")
	}
	if err := stopped(ctx); err != nil {
		return Explanation{}, err
	}
	x, err := find(ctx, c.text, t)
	if err != nil {
		return Explanation{}, err
	}
	x.Schema = Schema
	x.Notes = append(c.notes, x.Notes...)
	if x.MemoryFault {
		x.SignalNumber = crashes.Number(x.Signal)
		x.CodeMeaning = crashes.CodeMeaning(x.Code)
		if n := countFaults(c.text); n > 1 {
			x.Notes = append(x.Notes, fmt.Sprintf("The input holds %d fault traces; this explains the first.", n))
		}
		if strings.HasPrefix(x.Addr, "0xffff") && len(x.Addr) >= 14 {
			x.Notes = append(x.Notes, "The fault address (0xffff...) is typical of arm64, where user mappings sit near the top of a 48-bit address space.")
		}
		advise(&x, known)
		if MentionsNFS(c.text) {
			x.OnSharedVolume(nfsVersion(c.text))
		}
	}
	return x, stopped(ctx)
}

// find tells what the cleaned text shows: a Go fault, a recovered fault,
// a death by a signal, or something else.
func find(ctx context.Context, text string, t crashes.Trace) (Explanation, error) {
	low := strings.ToLower(text)
	switch {
	case t.Signal == "SIGBUS" || t.Signal == "SIGSEGV":
		return goFault(t), nil
	case recoveredFault(text, low, t):
		return recovered(t, text), nil
	}
	d, ok, err := findDeath(ctx, text, low)
	switch {
	case err != nil:
		return Explanation{}, err
	case ok && (d.signal == "SIGBUS" || d.signal == "SIGSEGV"):
		return killed(d, text), nil
	}
	return other(t, text, low, d, ok), nil
}

// checkEvery is how many lines a loop over the input handles between two
// looks at its context.
const checkEvery = 1 << 12

// stopped returns an error when ctx has ended.
func stopped(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("explain stopped before the end of the input: %w", err)
	}
	return nil
}

var faultCountRE = lazyre.New(`unexpected fault address|\[signal SIG(?:BUS|SEGV)`)

// countFaults counts the fault traces in text (one per headline).
func countFaults(text string) int {
	n := 0
	prev := -10
	for i, l := range strings.Split(text, "\n") {
		if (strings.Contains(l, "fault address") || strings.Contains(l, "[signal SIG")) && faultCountRE.MatchString(l) {
			if i > prev+2 {
				n++
			}
			prev = i
		}
	}
	return n
}

// parseAddr reads "0x7f..." into a number.
func parseAddr(s string) (uint64, bool) {
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(s), "0x"), 16, 64)
	return v, err == nil && s != ""
}

// setFrames fills Frame, Frames, Library, Via and Caller from a Go trace.
func (x *Explanation) setFrames(t crashes.Trace) {
	ff := faultFrames(t.Frames)
	for i, f := range ff {
		if i == 8 {
			break
		}
		x.Frames = append(x.Frames, frameOf(f))
	}
	if len(x.Frames) > 0 {
		x.Frame = &x.Frames[0]
	}
	x.Library, x.Via, x.Caller = blame(ff)
	if x.Library == nil {
		for _, f := range ff {
			if !std(f.Func) {
				x.Library = &Library{Name: pkgOf(f.Func), Module: pkgOf(f.Func), Lang: "Go"}
				break
			}
		}
	}
	switch {
	case len(t.Frames) == 0:
		x.Notes = append(x.Notes, "The input has no goroutine frames: the library cannot be named from it.")
	case len(ff) == 0:
		x.Notes = append(x.Notes, "The trace ends before any frame outside the Go runtime (truncated?): the library cannot be named from it.")
	}
}

// goFault explains a Go trace with a SIGBUS or SIGSEGV signal line.
func goFault(t crashes.Trace) Explanation {
	x := Explanation{Kind: Fault, MemoryFault: true, Signal: t.Signal, Code: t.CodeName, Addr: t.Addr, Headline: t.Fatal}
	if x.Headline == "" {
		x.Headline = t.SignalLine
	}
	x.setFrames(t)
	addr, addrOK := parseAddr(t.Addr)
	where := x.where()
	switch {
	case t.Signal == "SIGSEGV" && addrOK && addr < 0x1000:
		x.Kind, x.MemoryFault = Other, false
		x.Found = fmt.Sprintf("No memory fault found: a nil pointer dereference (SIGSEGV at %s)%s: a bug in that code, not a fault on a mapped file.", t.Addr, where)
		x.Headline = t.Fatal
		return x
	case t.Kind == "panic" && strings.Contains(t.Fatal, "[recovered"):
		x.Found = fmt.Sprintf("A Go program died of a memory fault: %s%s. debug.SetPanicOnFault turned the fault into a panic, which was recovered and then raised again, so the process died anyway.", x.signalText(), where)
	case t.Kind == "panic":
		x.Found = fmt.Sprintf("A Go program died of a memory fault: %s%s. debug.SetPanicOnFault was on, so the fault became a panic, but nothing recovered it.", x.signalText(), where)
	case strings.Contains(t.Fatal, "unexpected signal during runtime execution"):
		x.Found = fmt.Sprintf("A Go program died of a memory fault outside Go code: %s%s. The runtime cannot turn a fault in cgo (C) code or in the runtime itself into a panic, so SetPanicOnFault could not have saved it.", x.signalText(), where)
	case t.Fatal == "":
		x.Found = fmt.Sprintf("A Go program hit a memory fault: %s%s (the headline, fatal error or panic, is not in the input).", x.signalText(), where)
	default:
		x.Found = fmt.Sprintf("A Go program died of a memory fault (%s): %s%s.", t.Fatal, x.signalText(), where)
	}
	if t.Signal == "SIGBUS" && addrOK && addr < 0x1000 {
		x.Notes = append(x.Notes, "The fault address is "+t.Addr+": under qemu-user emulation a SIGBUS arrives without its address (the Go runtime then reports a nil dereference); on real hardware and under full-system emulation the address is exact.")
	}
	return x
}

// signalText is "SIGBUS (bus error), code BUS_ADRERR, at 0x7f...".
func (x Explanation) signalText() string {
	s := x.Signal
	switch x.Signal {
	case "SIGBUS":
		s += " (bus error)"
	case "SIGSEGV":
		s += " (segmentation violation)"
	}
	if x.Code != "" {
		s += ", code " + x.Code
	}
	if x.Addr != "" {
		s += ", at address " + x.Addr
	}
	return s
}

// where is " in maxminddb-golang (called through geoip2-golang)", or "".
func (x Explanation) where() string {
	switch {
	case x.Library != nil && len(x.Via) > 0:
		return " in " + x.Library.Name + " (called through " + strings.Join(x.Via, ", ") + ")"
	case x.Library != nil:
		return " in " + x.Library.Name
	case x.Frame != nil:
		return " in " + x.Frame.Func
	}
	return ""
}

var (
	recoverRE  = hinted{lazyre.New(`(?i)\brecover(?:ed|ing|y)?\b`), []string{"recover"}}
	nilDerefRE = hinted{lazyre.New(`invalid memory address or nil pointer dereference|unexpected fault address|memory fault`),
		[]string{"nil pointer dereference", "unexpected fault address", "memory fault"}}
	faultAddrRE = lazyre.New(`(?i)(?:fault (?:at|address)|addr(?:ess)?[=: ]+)\s*(0x[0-9a-f]+)`)
	jvmFaultRE  = lazyre.New(`a fault occurred in (?:a recent |an )?unsafe memory access operation`)
)

// hinted is a regular expression with lower-case literals one of which is
// in the lower-case form of any text it matches: a test that costs a
// fraction of the expression's on a large log, and spares it the logs (or
// lines) that cannot match.
type hinted struct {
	re    *lazyre.RE
	hints []string
}

// match reports whether re matches text, whose lower-case form is low.
func (h hinted) match(text, low string) bool {
	return anyIn(low, h.hints) && h.re.MatchString(text)
}

// anyIn reports whether s holds any of hints; no hints is a yes.
func anyIn(s string, hints []string) bool {
	for _, h := range hints {
		if strings.Contains(s, h) {
			return true
		}
	}
	return len(hints) == 0
}

// recoveredFault reports whether text shows a memory fault that was
// caught: recover wording, the runtime error's text, and either a reader
// library at the fault or a fault address that is not a nil dereference.
// The JVM's InternalError for a fault in a mapped buffer counts too.
func recoveredFault(text, low string, t crashes.Trace) bool {
	if jvmFaultRE.MatchString(text) {
		return true
	}
	if !recoverRE.match(text, low) || !nilDerefRE.match(text, low) {
		return false
	}
	if m := faultAddrRE.FindStringSubmatch(text); m != nil {
		if a, ok := parseAddr(m[1]); ok && a >= 0x1000 {
			return true
		}
	}
	lib, _, _ := blame(faultFrames(t.Frames))
	return lib != nil
}

// recovered explains a fault that was caught inside the process.
func recovered(t crashes.Trace, text string) Explanation {
	x := Explanation{Kind: Recovered, MemoryFault: true}
	if jvmFaultRE.MatchString(text) {
		x.Signal = "SIGBUS"
		x.Headline = firstLine(text, jvmFaultRE)
		if l, ok := libraryIn(text); ok {
			x.Library = &l
		} else {
			x.Library = &Library{Name: "a Java reader (MappedByteBuffer)", Lang: "Java"}
		}
		x.Found = fmt.Sprintf("A Java program caught a memory fault in a mapped buffer: the JVM turned a SIGBUS into java.lang.InternalError%s.", x.where())
		return x
	}
	x.setFrames(t)
	x.Headline = firstLine(text, nilDerefRE.re)
	if m := faultAddrRE.FindStringSubmatch(text); m != nil {
		x.Addr = m[1]
	}
	x.Found = fmt.Sprintf("A Go program caught a memory fault%s with debug.SetPanicOnFault and recover(), and went on.", x.where())
	x.Notes = append(x.Notes, "A recovered fault's text says \"invalid memory address or nil pointer dereference\" even for a SIGBUS: the signal and code are not in it. runtime.Error's Addr() gives the fault address; log it to tell a fault on the mapping (a high address) from a nil dereference (below 0x1000). In a reader of a mapped file it is most likely a SIGBUS (BUS_ADRERR).")
	return x
}

// firstLine returns the first line of text that re matches, trimmed.
func firstLine(text string, re *lazyre.RE) string {
	for _, l := range strings.Split(text, "\n") {
		if re.MatchString(l) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}
