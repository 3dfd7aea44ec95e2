package crashes

import (
	"regexp"
	"slices"
	"strings"
)

// A goroutine dump (SIGQUIT) names no faulting goroutine: the one that
// matters is the one that was at work. These find it.

var (
	// SIGQUIT: quit, the headline of a Go goroutine dump.
	quitRE = regexp.MustCompile(`^SIGQUIT: quit$`)
	// goroutine 1 gp=0x... m=5 mp=0x... [running]: (status before any comma)
	gorStatusRE = regexp.MustCompile(`goroutine (\d+)(?: gp=\S+ m=\S+(?: mp=\S+)?)? \[([^\],]*)[^\]]*\]:`)
)

// goroutine is one goroutine of a trace.
type goroutine struct {
	header, status string
	frames         []Frame
}

// goroutines reads every goroutine with a stack in lines (a dump taken with
// GOTRACEBACK=crash shows one goroutine several times: once as "running on
// other thread; stack unavailable", once from its own thread, with frames).
func goroutines(lines []string) []goroutine {
	var out []goroutine
	var cur *goroutine
	for i := 0; i < len(lines); i++ {
		s := strings.TrimSpace(lines[i])
		if m := gorStatusRE.FindStringSubmatch(s); m != nil && strings.HasPrefix(s, "goroutine ") {
			out = append(out, goroutine{header: m[0], status: m[2]})
			cur = &out[len(out)-1]
			continue
		}
		if cur == nil {
			continue
		}
		if s == "" || strings.HasPrefix(s, "created by ") {
			cur = nil
			continue
		}
		if fm := funcRE.FindStringSubmatch(s); fm != nil && !strings.HasPrefix(lines[i], "\t") {
			f := Frame{Func: fm[1]}
			if i+1 < len(lines) {
				if mm := fileRE.FindStringSubmatch(lines[i+1]); mm != nil {
					f.File = mm[1]
					i++
				}
			}
			cur.frames = append(cur.frames, f)
		}
	}
	return out
}

// busy picks the goroutine a dump caught at work: the first one running
// code outside the runtime on a thread, else the first runnable one (waiting
// for a thread, or preempted by the dump itself), else the first in a system
// call (last, because a goroutine blocked reading a pipe is in one too). The
// goroutine that raised the dump (in syscall.Kill, as the reader child does
// to dump every thread) is never it.
func busy(gs []goroutine) (goroutine, bool) {
	for _, status := range []string{"running", "runnable", "syscall"} {
		for _, g := range gs {
			if g.status != status || raisedDump(g) {
				continue
			}
			for _, f := range g.frames {
				if !f.Runtime() {
					return g, true
				}
			}
		}
	}
	return goroutine{}, false
}

func raisedDump(g goroutine) bool {
	for _, f := range g.frames {
		if f.Func == "syscall.Kill" || strings.HasPrefix(f.Func, "os/signal.") {
			return true
		}
	}
	return false
}

// StuckIn renders where a goroutine dump caught the busy goroutine, innermost
// first: the standard-library call it was in, if any ("os.ReadFile"), then
// its first n frames outside the standard library, as
// "os.ReadFile (os/file.go:871) <- pkg.F (pkg/f.go:12) <- ...". It is ""
// when the trace is no goroutine dump or shows no goroutine at work.
func (t Trace) StuckIn(n int) string {
	frames := userFrames(t.BusyFrames, len(t.BusyFrames))
	first := slices.IndexFunc(frames, func(f Frame) bool { return !f.std() })
	switch {
	case first < 0:
		first = 0 // the standard library only: show where in it
	case first > 0:
		first-- // the standard-library call it was in
	}
	var parts []string
	for _, f := range frames[first:min(len(frames), first+n)] {
		p := f.Func
		if f.File != "" {
			p += " (" + shortFile(f.File) + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " <- ")
}

// std reports whether f is in the Go standard library: its import path's
// first element has no dot ("os", "internal/poll"), and it is not main.
func (f Frame) std() bool {
	path := f.Func
	if i := strings.LastIndex(path, "/"); i >= 0 {
		if j := strings.Index(path[i:], "."); j >= 0 {
			path = path[:i+j]
		}
	} else if j := strings.Index(path, "."); j >= 0 {
		path = path[:j]
	}
	head, _, _ := strings.Cut(path, "/")
	return !strings.Contains(head, ".") && path != "main"
}

func userFrames(frames []Frame, n int) []Frame {
	var out []Frame
	for _, f := range frames {
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

// shortFile keeps the last two elements of a path: ".../maxminddb-golang@v1.13.1/reader.go:123"
// becomes "maxminddb-golang@v1.13.1/reader.go:123".
func shortFile(p string) string {
	parts := strings.Split(p, "/")
	if len(parts) > 2 {
		parts = parts[len(parts)-2:]
	}
	return strings.Join(parts, "/")
}

// dumpSummary is Summary for a goroutine dump: the headline, where the busy
// goroutine was, and its first n frames outside the runtime.
func (t Trace) dumpSummary(n int) string {
	var b strings.Builder
	b.WriteString(t.Quit + "\n")
	b.WriteString("stuck in " + t.StuckIn(1) + "\n")
	b.WriteString(t.Busy + "\n")
	for _, f := range userFrames(t.BusyFrames, n) {
		b.WriteString(f.Func + "\n")
		if f.File != "" {
			b.WriteString("\t" + f.File + "\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}
