package explain

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"github.com/mapchaos/mapchaos/crashes"
	"github.com/mapchaos/mapchaos/internal/lazyre"
)

// death is a process death by a signal that the input reports without a
// Go trace.
type death struct {
	signal  string
	code    string
	addr    string
	line    string // the line that says so
	process string // the command, when the line names it
	lib     string // a shared object named by a kernel segfault line
}

// A pattern recognises one way of reporting a death by signal; it returns
// the signal name, or "" when the line is not one.
type deathPattern struct {
	re   *lazyre.RE
	read func(m []string, d *death)
	// rich patterns give the si_code too: they win over any other line
	rich bool
	// hints are lower-case literals one of which is in every line that
	// re matches (lowered), unless gate, when set, says yes: a cheap test
	// that spares the regular expression the lines of noise around a crash.
	hints []string
	gate  func(low string) bool
}

// could reports whether p may match a line whose lower-case form is low.
func (p deathPattern) could(low string) bool {
	return anyIn(low, p.hints) || p.gate != nil && p.gate(low)
}

// rcCode reports whether low holds "rc" at the start of a word, then
// blanks, ':' or '=' and a word 13x to 15x: what "rc=137" needs.
func rcCode(low string) bool {
	for i := 0; ; i += 2 {
		j := strings.Index(low[i:], "rc")
		if j < 0 {
			return false
		}
		i += j
		if i > 0 && wordByte(low[i-1]) {
			continue
		}
		n := strings.TrimLeft(low[i+2:], " \t\n\f\r:=")
		if len(n) >= 3 && n[0] == '1' && '3' <= n[1] && n[1] <= '5' && '0' <= n[2] && n[2] <= '9' && (len(n) == 3 || !wordByte(n[3])) {
			return true
		}
	}
}

// wordByte reports whether b is a word character for \b: [0-9A-Za-z_].
func wordByte(b byte) bool {
	return b == '_' || '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
}

func signalFromNumber(s string) string {
	n, err := strconv.Atoi(s)
	if err != nil {
		return ""
	}
	return crashes.Name(syscall.Signal(n))
}

func signalFromName(s string) string {
	s = strings.ToUpper(s)
	if !strings.HasPrefix(s, "SIG") {
		s = "SIG" + s
	}
	if crashes.Number(s) == 0 {
		return ""
	}
	return s
}

// deathPatterns are tried on every line, in order; the first line that
// matches any of them wins, and a SIGBUS or SIGSEGV beats other signals.
var deathPatterns = []deathPattern{
	// kernel: "geo[1234]: segfault at 7f2c3c0 ip 00007f... sp 00007ff... error 4 in libmaxminddb.so.0.0.7[7f...+5000]"
	{lazyre.New(`segfault at ([0-9a-fA-F]+) ip \S+ sp \S+ error (\d+)(?: cpu \d+)? in ([^\[\s]+)`), func(m []string, d *death) {
		d.signal, d.addr, d.lib = "SIGSEGV", "0x"+m[1], m[3]
		if e, err := strconv.Atoi(m[2]); err == nil {
			d.code = map[bool]string{false: "SEGV_MAPERR", true: "SEGV_ACCERR"}[e&1 == 1]
		}
	}, true, []string{"segfault at "}, nil},
	// JVM hs_err / crash banner: "siginfo: si_signo: 7 (SIGBUS), si_code: 2 (BUS_ADRERR), si_addr: 0x..."
	{lazyre.New(`si_signo: \d+ \((SIG[A-Z]+)\), si_code: \d+ \(([A-Z_]+)\), si_addr: (0x[0-9a-fA-F]+)`), func(m []string, d *death) {
		d.signal, d.code, d.addr = m[1], m[2], m[3]
	}, true, []string{"si_signo: "}, nil},
	// JVM: "#  SIGBUS (0x7) at pc=0x00007f..., pid=1234, tid=1235"
	{lazyre.New(`\b(SIG[A-Z]+) \(0x[0-9a-f]+\) at pc=`), func(m []string, d *death) { d.signal = m[1] }, false, []string{") at pc="}, nil},
	// gdb: "Program received signal SIGBUS, Bus error."
	{lazyre.New(`received signal (SIG[A-Z]+)`), func(m []string, d *death) { d.signal = m[1] }, false, []string{"received signal sig"}, nil},
	// Python faulthandler: "Fatal Python error: Bus error"
	{lazyre.New(`Fatal Python error: (Bus error|Segmentation fault)`), func(m []string, d *death) {
		d.signal = map[string]string{"Bus error": "SIGBUS", "Segmentation fault": "SIGSEGV"}[m[1]]
	}, false, []string{"fatal python error: "}, nil},
	// bash: "bash: line 1: 28642 Bus error               python3 reader.py t.mmdb"
	{lazyre.New(`^(?:\S+: )?(?:line \d+: )?\d+ (Bus error|Segmentation fault|Killed|Aborted)(?: \(core dumped\))?\s+(\S.*)$`), func(m []string, d *death) {
		d.signal = map[string]string{"Bus error": "SIGBUS", "Segmentation fault": "SIGSEGV", "Killed": "SIGKILL", "Aborted": "SIGABRT"}[m[1]]
		d.process = strings.TrimSpace(m[2])
	}, false, []string{"bus error", "segmentation fault", "killed", "aborted"}, nil},
	// a shell's line alone: "Killed", "Aborted (core dumped)"
	{lazyre.New(`^\s*(?:\S+: )?(?:line \d+: )?(Killed|Aborted)(?: \(core dumped\))?\s*$`), func(m []string, d *death) {
		d.signal = map[string]string{"Killed": "SIGKILL", "Aborted": "SIGABRT"}[m[1]]
	}, false, []string{"killed", "aborted"}, nil},
	// a shell, os/exec, zsh, fish: "Bus error (core dumped)", "signal: bus error", "zsh: segmentation fault  ./geo"
	{lazyre.New(`(?i)\b(bus error|segmentation (?:fault|violation)|segfault)\b`), func(m []string, d *death) {
		if strings.EqualFold(m[1], "bus error") {
			d.signal = "SIGBUS"
		} else {
			d.signal = "SIGSEGV"
		}
	}, false, []string{"bus error", "segmentation ", "segfault"}, nil},
	// "Killed by signal 7", "killed by SIGBUS", "terminated by signal SIGSEGV", "signal: killed"
	{lazyre.New(`(?i)\b(?:killed|terminated) by (?:signal )?(SIG[A-Z]+|\d+)\b`), func(m []string, d *death) {
		if d.signal = signalFromNumber(m[1]); d.signal == "" || strings.HasPrefix(d.signal, "signal ") {
			d.signal = signalFromName(m[1])
		}
	}, false, []string{"killed by ", "terminated by "}, nil},
	// systemd: "Main process exited, code=killed, status=7/BUS"
	{lazyre.New(`status=\d+/([A-Z]+)\b`), func(m []string, d *death) { d.signal = signalFromName(m[1]) }, false, []string{"status="}, nil},
	// exit status 128+N: "exit status 135", "exited with code 139", "Exit Code: 135", "exitCode: 137"
	{lazyre.New(`(?i)\b(?:exit(?:ed)?(?: with)?[ _]?(?:status|code)|returned|rc)[\s:=]{0,8}(1[3-5]\d)\b`), func(m []string, d *death) {
		n, _ := strconv.Atoi(m[1])
		d.signal = signalFromNumber(strconv.Itoa(n - 128))
	}, false, []string{"exit status", "exit_status", "exitstatus", "exit code", "exit_code", "exitcode", "exit with", "exited", "returned"}, rcCode},
	// "signal: killed" (os/exec), "SIGKILL", "SIGBUS" anywhere
	{lazyre.New(`\b(SIGBUS|SIGSEGV|SIGKILL|SIGABRT)\b|signal: (killed|aborted)`), func(m []string, d *death) {
		switch {
		case m[1] != "":
			d.signal = m[1]
		case m[2] == "killed":
			d.signal = "SIGKILL"
		default:
			d.signal = "SIGABRT"
		}
	}, false, []string{"sigbus", "sigsegv", "sigkill", "sigabrt", "signal: "}, nil},
}

// findDeath looks for a death by signal in text. A SIGBUS or SIGSEGV wins
// over other signals wherever it is; otherwise the first death found.
func findDeath(ctx context.Context, text, low string) (death, bool, error) {
	lines := strings.Split(text, "\n")
	lows := strings.Split(low, "\n") // lowering keeps every newline
	for i, l := range lines {
		if i%checkEvery == 0 {
			if err := stopped(ctx); err != nil {
				return death{}, false, err
			}
		}
		for _, p := range deathPatterns {
			if !p.rich || !p.could(lows[i]) {
				continue
			}
			if m := p.re.FindStringSubmatch(l); m != nil {
				d := death{line: strings.TrimSpace(l)}
				p.read(m, &d)
				return d, true, nil
			}
		}
	}
	var first death
	found := false
	for i, l := range lines {
		if i%checkEvery == 0 {
			if err := stopped(ctx); err != nil {
				return death{}, false, err
			}
		}
		for _, p := range deathPatterns {
			if !p.could(lows[i]) {
				continue
			}
			m := p.re.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			d := death{line: strings.TrimSpace(l)}
			p.read(m, &d)
			if d.signal == "" || strings.HasPrefix(d.signal, "signal ") {
				continue
			}
			if d.signal == "SIGBUS" || d.signal == "SIGSEGV" {
				return d, true, nil
			}
			if !found {
				first, found = d, true
			}
			break
		}
	}
	return first, found, nil
}

// killed explains a process killed by SIGBUS or SIGSEGV without a Go trace.
func killed(d death, text string) Explanation {
	x := Explanation{Kind: Killed, MemoryFault: true, Signal: d.signal, Code: d.code, Addr: d.addr, Headline: d.line, Process: d.process}
	switch {
	case d.lib != "":
		if l, ok := libraryIn(d.lib); ok {
			x.Library = &l
		} else {
			x.Library = &Library{Name: d.lib, Module: d.lib, Lang: "C"}
		}
	default:
		if l, ok := libraryIn(text); ok {
			x.Library = &l
		} else {
			x.Library = foreignReader(d.process + "\n" + text)
		}
	}
	who := "A process"
	if d.process != "" {
		who = "A process (" + d.process + ")"
	}
	x.Found = fmt.Sprintf("%s was killed by %s%s.", who, x.signalText(), x.where())
	if x.Library.Module == "" {
		x.Notes = append(x.Notes, "The input has no stack: it does not say which library the process read the database with. A Go program would have printed a trace (fatal error: fault); this looks like a C, Python, Java or other reader.")
	}
	if d.code == "" {
		x.Notes = append(x.Notes, "The si_code is not in the input (a shell or a supervisor only reports the signal).")
	}
	return x
}

// foreignReader names an unknown reader by its language, when the process
// name or the output gives it away.
func foreignReader(text string) *Library {
	switch {
	case strings.Contains(text, "Fatal Python error") || strings.Contains(text, "python"):
		return &Library{Name: "a Python reader", Lang: "Python"}
	case strings.Contains(text, "java") || strings.Contains(text, "JRE"):
		return &Library{Name: "a Java reader", Lang: "Java"}
	}
	return &Library{Name: "a foreign reader"}
}

// otherFindings name Go failures that are not memory faults.
var otherFindings = []struct {
	re   *lazyre.RE
	text string
}{
	{lazyre.New(`assignment to entry in nil map`), "a write to a nil map"},
	{lazyre.New(`all goroutines are asleep - deadlock`), "a deadlock: every goroutine was blocked"},
	{lazyre.New(`concurrent map (?:writes|read and map write|iteration and map write)`), "a data race on a map (concurrent map access)"},
	{lazyre.New(`runtime: out of memory|fatal error: out of memory`), "the Go runtime ran out of memory"},
	{lazyre.New(`stack overflow|goroutine stack exceeds`), "a stack overflow (unbounded recursion?)"},
	{lazyre.New(`index out of range|slice bounds out of range`), "an index out of range"},
	{lazyre.New(`integer divide by zero`), "an integer division by zero"},
	{lazyre.New(`send on closed channel|close of closed channel|close of nil channel`), "a misuse of a channel"},
	{lazyre.New(`interface conversion`), "a failed interface conversion"},
}

var oomRE = hinted{lazyre.New(`(?i)out of memory: kill(?:ed)? process|oom[-_ ]?kill|OOMKilled|memory cgroup out of memory|invoked oom-killer`),
	[]string{"out of memory", "oomkill", "oom-kill", "oom_kill", "oom kill"}}

// other explains input with no memory fault: what it did find.
func other(t crashes.Trace, text, low string, d death, died bool) Explanation {
	x := Explanation{Kind: Other, Headline: t.Fatal}
	found := ""
	switch {
	case oomRE.match(text, low):
		found = "the kernel's OOM killer killed the process (SIGKILL): it ran out of memory"
		x.Headline = firstLine(text, oomRE.re)
	case t.Fatal != "":
		what := t.Fatal
		for _, f := range otherFindings {
			if f.re.MatchString(t.Fatal) {
				what = f.text + " (" + t.Fatal + ")"
				break
			}
		}
		kind := "a Go fatal error"
		if t.Kind == "panic" {
			kind = "a Go panic"
		}
		found = kind + ": " + what
		x.setFrames(t)
		x.Library, x.Via, x.Caller = nil, nil, nil
		if x.Frame != nil {
			found += ", in " + x.Frame.Func
			if x.Frame.File != "" {
				found += " (" + x.Frame.File + ")"
			}
		}
		x.Notes = nil
	case died:
		x.Headline = d.line
		x.Signal = d.signal
		switch d.signal {
		case "SIGKILL":
			found = "the process was killed by SIGKILL (exit status 137): usually the OOM killer or a container memory limit, sometimes a supervisor that gave up waiting"
		case "SIGABRT":
			found = "the process aborted (SIGABRT, exit status 134). A Go program run with GOTRACEBACK=crash aborts after printing a fault: if a `fatal error: fault` trace came before this line, paste that too"
		case "SIGTERM", "SIGINT":
			found = "the process was stopped by " + d.signal + ": someone or something asked it to stop"
		default:
			found = "the process was killed by " + d.signal
		}
	}
	if found == "" {
		x.Kind = Nothing
		x.Found = "No memory fault found, and nothing else that looks like a crash: no Go panic or fatal error, no death by a signal."
		return x
	}
	x.Found = "No memory fault found. It found " + found + ". That is not a fault on a memory-mapped file."
	return x
}
