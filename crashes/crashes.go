package crashes

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// Trace is what Parse found in a crash trace.
type Trace struct {
	// Fatal is the runtime's headline: "fatal error: fault",
	// "panic: runtime error: ...", or "" when none was found.
	Fatal string
	// Kind is "fault" (fatal error: fault / unexpected signal), "panic",
	// "fatal" (another fatal error), "signal" (a signal line without a Go
	// headline) or "" when nothing was recognised.
	Kind string
	// Signal is the signal name (SIGBUS), SignalNumber its number, Code the
	// raw si_code and CodeName its name (BUS_ADRERR).
	Signal       string
	SignalNumber int
	Code         int
	CodeName     string
	// Addr and PC as written in the trace ("0x7f...").
	Addr string
	PC   string
	// SignalLine is the `[signal ...]` line as found.
	SignalLine string
	// Frames are the frames of the first goroutine, outermost last.
	Frames []Frame
	// Goroutine is the header of the first goroutine ("goroutine 1 [running]:").
	Goroutine string
}

// Frame is one function of a goroutine trace.
type Frame struct {
	Func string // e.g. github.com/oschwald/maxminddb-golang.(*Reader).traverseTree
	File string // path:line, as written
}

// Runtime reports whether f is inside the Go runtime.
func (f Frame) Runtime() bool {
	return strings.HasPrefix(f.Func, "runtime.") || strings.HasPrefix(f.Func, "runtime/")
}

// Found reports whether anything that looks like a crash was recognised.
func (t Trace) Found() bool { return t.Kind != "" }

// UserFrames returns the first n frames outside the Go runtime.
func (t Trace) UserFrames(n int) []Frame {
	var out []Frame
	for _, f := range t.Frames {
		if f.Runtime() {
			continue
		}
		out = append(out, f)
		if len(out) == n {
			break
		}
	}
	return out
}

// Summary renders the lines that matter: the headline, the signal line and
// the first n frames outside the runtime.
func (t Trace) Summary(n int) string {
	var b strings.Builder
	if t.Fatal != "" {
		b.WriteString(t.Fatal + "\n")
	}
	if t.SignalLine != "" {
		b.WriteString(t.SignalLine + "\n")
	}
	if t.Goroutine != "" {
		b.WriteString(t.Goroutine + "\n")
	}
	for _, f := range t.UserFrames(n) {
		b.WriteString(f.Func + "\n")
		if f.File != "" {
			b.WriteString("\t" + f.File + "\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

var (
	// [signal SIGBUS: bus error code=0x2 addr=0x7f... pc=0x4a5b2c]
	signalRE = regexp.MustCompile(`\[signal (SIG[A-Z0-9]+)(?:: [^\]]*?)?(?: code=(-?0x[0-9a-fA-F]+|-?\d+))?(?: addr=(0x[0-9a-fA-F]+|\?))?(?: pc=(0x[0-9a-fA-F]+))?\]`)
	faultRE  = regexp.MustCompile(`unexpected fault address (0x[0-9a-fA-F]+)`)
	fatalRE  = regexp.MustCompile(`(fatal error: .*|panic: .*)$`)
	gorRE    = regexp.MustCompile(`goroutine \d+(?: gp=\S+ m=\S+(?: mp=\S+)?)? \[[^\]]*\]:`)
	funcRE   = regexp.MustCompile(`^([\w./%*()\[\]{},:~-]+)\((.*)\)$`)
	fileRE   = regexp.MustCompile(`^\s*(\S+\.(?:go|s|c):\d+)`)
	// A leading timestamp or log prefix: "2026-11-30T05:40:30.123Z stderr F ",
	// "Nov 30 05:40:30 host app[123]: ", "| ".
	prefixRE = regexp.MustCompile(`^(?:\d{4}-\d\d-\d\d[T ][\d:.,]+(?:Z|[+-]\d\d:?\d\d)?\s+(?:(?:stdout|stderr)\s+[FP]\s+)?|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ [^:]+: |\|\s)`)
)

// Parse reads a crash trace. It never fails: a trace with nothing in it
// gives a Trace whose Found is false.
func Parse(text string) Trace {
	var t Trace
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(prefixRE.ReplaceAllString(strings.TrimRight(l, "\r"), ""), " \t")
	}
	inGoroutine := false
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if t.Fatal == "" {
			if m := fatalRE.FindStringSubmatch(l); m != nil && (strings.HasPrefix(strings.TrimSpace(l), "fatal error:") || strings.HasPrefix(strings.TrimSpace(l), "panic:")) {
				t.Fatal = strings.TrimSpace(m[1])
			}
		}
		if m := faultRE.FindStringSubmatch(l); m != nil && t.Addr == "" {
			t.Addr = m[1]
		}
		if m := signalRE.FindStringSubmatch(l); m != nil && t.SignalLine == "" {
			t.SignalLine = strings.TrimSpace(m[0])
			t.Signal = m[1]
			t.SignalNumber = Number(m[1])
			if m[2] != "" {
				if c, err := strconv.ParseInt(m[2], 0, 64); err == nil {
					t.Code = int(c)
					t.CodeName = CodeName(t.Signal, t.Code)
				}
			}
			if m[3] != "" && m[3] != "?" {
				t.Addr = m[3]
			}
			t.PC = m[4]
		}
		if t.Goroutine == "" {
			if m := gorRE.FindString(l); m != "" {
				t.Goroutine = strings.TrimSpace(m)
				inGoroutine = true
				continue
			}
		}
		if inGoroutine {
			s := strings.TrimSpace(l)
			if s == "" {
				if len(t.Frames) > 0 {
					inGoroutine = false
				}
				continue
			}
			if strings.HasPrefix(s, "goroutine ") {
				inGoroutine = false
				continue
			}
			if fm := funcRE.FindStringSubmatch(s); fm != nil && !strings.HasPrefix(l, "\t") {
				f := Frame{Func: fm[1]}
				if i+1 < len(lines) {
					if mm := fileRE.FindStringSubmatch(lines[i+1]); mm != nil {
						f.File = mm[1]
						i++
					}
				}
				t.Frames = append(t.Frames, f)
			} else if strings.HasPrefix(s, "created by ") {
				inGoroutine = false
			}
		}
	}
	switch {
	case strings.HasPrefix(t.Fatal, "fatal error: fault"), strings.HasPrefix(t.Fatal, "fatal error: unexpected signal"):
		t.Kind = "fault"
	case strings.HasPrefix(t.Fatal, "panic:"):
		t.Kind = "panic"
	case t.Fatal != "":
		t.Kind = "fatal"
	case t.Signal != "":
		t.Kind = "signal"
	}
	return t
}

var signals = map[string]syscall.Signal{
	"SIGHUP": syscall.SIGHUP, "SIGINT": syscall.SIGINT, "SIGQUIT": syscall.SIGQUIT, "SIGILL": syscall.SIGILL,
	"SIGTRAP": syscall.SIGTRAP, "SIGABRT": syscall.SIGABRT, "SIGBUS": syscall.SIGBUS, "SIGFPE": syscall.SIGFPE,
	"SIGKILL": syscall.SIGKILL, "SIGUSR1": syscall.SIGUSR1, "SIGSEGV": syscall.SIGSEGV, "SIGUSR2": syscall.SIGUSR2,
	"SIGPIPE": syscall.SIGPIPE, "SIGALRM": syscall.SIGALRM, "SIGTERM": syscall.SIGTERM, "SIGSYS": syscall.SIGSYS,
	"SIGXCPU": syscall.SIGXCPU, "SIGXFSZ": syscall.SIGXFSZ,
}

// Number returns the Linux number of a signal name, or 0.
func Number(name string) int { return int(signals[name]) }

// Name returns the name of a signal ("SIGBUS"), or "signal N".
func Name(s syscall.Signal) string {
	for n, v := range signals {
		if v == s {
			return n
		}
	}
	return fmt.Sprintf("signal %d", int(s))
}

var codeNames = map[string][]string{
	"SIGBUS":  {1: "BUS_ADRALN", 2: "BUS_ADRERR", 3: "BUS_OBJERR", 4: "BUS_MCEERR_AR", 5: "BUS_MCEERR_AO"},
	"SIGSEGV": {1: "SEGV_MAPERR", 2: "SEGV_ACCERR", 3: "SEGV_BNDERR", 4: "SEGV_PKUERR", 5: "SEGV_ACCADI", 6: "SEGV_ADIDERR", 7: "SEGV_ADIPERR", 8: "SEGV_MTEAERR", 9: "SEGV_MTESERR"},
	"SIGFPE":  {1: "FPE_INTDIV", 2: "FPE_INTOVF", 3: "FPE_FLTDIV", 4: "FPE_FLTOVF", 5: "FPE_FLTUND", 6: "FPE_FLTRES", 7: "FPE_FLTINV", 8: "FPE_FLTSUB"},
	"SIGILL":  {1: "ILL_ILLOPC", 2: "ILL_ILLOPN", 3: "ILL_ILLADR", 4: "ILL_ILLTRP", 5: "ILL_PRVOPC", 6: "ILL_PRVREG", 7: "ILL_COPROC", 8: "ILL_BADSTK"},
}

// CodeName names the si_code of a signal (BUS_ADRERR), or "" when unknown.
func CodeName(signal string, code int) string {
	switch code {
	case 0:
		return "SI_USER"
	case 0x80:
		return "SI_KERNEL"
	case -6:
		return "SI_TKILL"
	}
	if names, ok := codeNames[signal]; ok && code > 0 && code < len(names) {
		return names[code]
	}
	return ""
}

// CodeMeaning explains an si_code name in a sentence.
func CodeMeaning(name string) string {
	switch name {
	case "BUS_ADRERR":
		return "the address is inside a mapping but no page of the file backs it: the mapped file is now shorter than the mapping (truncated or rewritten in place)"
	case "BUS_OBJERR":
		return "the object behind the mapping reported an I/O error for that page (a failing disk, or a file system that could not supply the page)"
	case "BUS_ADRALN":
		return "a misaligned access on an architecture that requires alignment"
	case "BUS_MCEERR_AR", "BUS_MCEERR_AO":
		return "a hardware memory error (machine check) on that page"
	case "SEGV_MAPERR":
		return "the address is not mapped at all (a use after munmap, a nil or wild pointer)"
	case "SEGV_ACCERR":
		return "the address is mapped but the access is not allowed (a write to a read-only mapping)"
	case "SI_KERNEL":
		return "sent by the kernel for a reason other than a memory access (often a general protection fault)"
	case "SI_USER", "SI_TKILL":
		return "sent by a process (kill, tgkill), not raised by a memory access"
	}
	return ""
}
