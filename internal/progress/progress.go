package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mapchaos/mapchaos/verdicts"
)

// Line reports how a run of many combinations is going. Every finished
// combination gets one line, the same on a terminal or not. On a terminal a status line
// (combination k of n, elapsed time, the verdicts so far) is rewritten in
// place with \r while a combination races, and cleared before each
// finished line; elsewhere the output stays line-oriented and parseable.
type Line struct {
	w     io.Writer
	tty   bool
	n     int
	start time.Time

	mu     sync.Mutex
	k      int                     // the combination racing now, 0 when none
	name   string                  // its name
	counts [verdicts.Crash + 1]int // by verdict
	shown  bool                    // a status line is on the screen
	stop   chan struct{}
	wg     sync.WaitGroup
}

// New starts the progress of n combinations begun at start; on a
// terminal it redraws the status line four times a second until Close.
func New(w io.Writer, n int, start time.Time) *Line {
	p := &Line{w: w, tty: IsTerminal(w), n: n, start: start, stop: make(chan struct{})}
	if p.tty {
		p.wg.Add(1)
		go p.tick()
	}
	return p
}

func (p *Line) tick() {
	defer p.wg.Done()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.draw()
			p.mu.Unlock()
		}
	}
}

// Begin says that combination k (1-based) is racing.
func (p *Line) Begin(k int, name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.k, p.name = k, name
	p.draw()
}

// Finished prints the line of a finished combination and counts its verdict.
func (p *Line) Finished(line string, v verdicts.Verdict) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	io.WriteString(p.w, line)
	if int(v) >= 0 && int(v) < len(p.counts) {
		p.counts[v]++
	}
	p.k = 0
}

// Write writes b below the status line: it clears the line first.
func (p *Line) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	return p.w.Write(b)
}

// Close clears the status line and stops redrawing it. It may be called
// more than once.
func (p *Line) Close() {
	p.mu.Lock()
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.clear()
	p.k = 0
	p.mu.Unlock()
	p.wg.Wait()
}

// draw rewrites the status line; p.mu is held.
func (p *Line) draw() {
	if !p.tty || p.k == 0 {
		return
	}
	var so []string // most severe first
	for v := len(p.counts) - 1; v >= 0; v-- {
		if c := p.counts[v]; c > 0 {
			so = append(so, fmt.Sprintf("%d %s", c, verdicts.Verdict(v)))
		}
	}
	if len(so) == 0 {
		so = []string{"nothing finished yet"}
	}
	s := fmt.Sprintf("[%2d/%d %5.1fs] racing %s ... so far: %s", p.k, p.n, time.Since(p.start).Seconds(), p.name, strings.Join(so, ", "))
	if w := termWidth(p.w); w > 1 && len(s) >= w {
		s = s[:w-1] // a line that wraps cannot be rewritten with \r
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", s)
	p.shown = true
}

// clear erases the status line; p.mu is held.
func (p *Line) clear() {
	if p.shown {
		io.WriteString(p.w, "\r\x1b[K")
		p.shown = false
	}
}

// IsTerminal reports whether x is a terminal that someone watches: TERM
// must be set, and not to "dumb". A serial console with no TERM (the arm64
// guest's, whose lines the host relays) gets the plain lines.
func IsTerminal(x any) bool {
	f, ok := x.(interface{ Fd() uintptr })
	if term := os.Getenv("TERM"); !ok || term == "" || term == "dumb" {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// termWidth is the width of the terminal w, or 0 when unknown.
func termWidth(w io.Writer) int {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return 0
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}
