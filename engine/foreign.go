package engine

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"syscall"
	"time"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/internal/clock"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/verdicts"
)

// ErrBadReader marks a foreign reader that does not follow the line
// protocol before it has started properly (no "ready", garbage instead).
// It is readers.ErrBadForeign, which step mode returns for the same fault.
var ErrBadReader = readers.ErrBadForeign

// driver holds what the harness needs to drive a foreign reader: it sends
// `lookup IP` and `reload` lines and checks every answer itself.
type driver struct {
	oracle fixtures.Oracle
	seed   uint64
	reload time.Duration
	ready  time.Duration // how long to wait for "ready"
}

// drive talks to a foreign reader until asked to quit or until it dies, then
// reaps it. The counters and events it records are those a reader child
// would have sent, so the foreign reader is classified like any other.
func (p *proc) drive(stdout io.Reader, d driver) {
	lines := make(chan string)
	readErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		readErr <- sc.Err()
		close(lines)
	}()
	defer func() {
		// Asked to quit: the reader ends normally once its stdin closes.
		select {
		case <-p.quit:
			p.mu.Lock()
			p.finished = true
			p.mu.Unlock()
		default:
		}
		_ = p.stdin.Close()
		for range lines { // let the reader goroutine finish
		}
		p.reap(stdout)
	}()

	// next returns the next line, or ok=false when the process has gone
	// or the harness asked to quit.
	next := func(timeout <-chan time.Time) (string, bool) {
		select {
		case l, ok := <-lines:
			return l, ok
		case <-p.quit:
			return "", false
		case <-timeout:
			return "", false
		}
	}
	l, ok := next(time.After(d.ready))
	if !ok {
		return
	}
	if strings.TrimSpace(l) != "ready" {
		p.bad(fmt.Sprintf("%v: first line %q, want \"ready\"", ErrBadReader, truncate(l, 200)))
		p.signal(syscall.SIGKILL)
		return
	}
	p.mu.Lock()
	p.readyAt = clock.Now()
	p.mu.Unlock()
	close(p.ready)

	rng := rand.New(rand.NewPCG(d.seed, 0x6d61706368616f73))
	st := verdicts.Tally{Opens: 1}
	lastReload := time.Now()
	publish := func() {
		p.mu.Lock()
		p.last = st
		if sum := st.Lookups + st.OpenErrors + st.Opens; sum != p.progress {
			p.progress, p.movedAt = sum, clock.Now()
		}
		p.mu.Unlock()
	}
	event := func(e readers.Event) {
		e.T = clock.Now()
		p.mu.Lock()
		defer p.mu.Unlock()
		n := 0
		for _, x := range p.events {
			if x.Ev == e.Ev && x.Op == e.Op {
				n++
			}
		}
		if n < 4 {
			p.events = append(p.events, e)
		}
	}
	for {
		select {
		case <-p.quit:
			return
		default:
		}
		if d.reload > 0 && time.Since(lastReload) >= d.reload {
			lastReload = time.Now()
			if _, err := io.WriteString(p.stdin, "reload\n"); err != nil {
				return
			}
			l, ok := next(nil)
			if !ok {
				return
			}
			var a readers.ForeignAnswer
			switch err := json.Unmarshal([]byte(l), &a); {
			case err != nil:
				p.garbage("reload", l)
				return
			case a.Error != "":
				st.OpenErrors++
				event(readers.Event{Ev: "error", Op: "reload", Detail: truncate(a.Error, 4096)})
			default:
				st.Opens++
			}
		}
		ip := d.oracle.Sample(rng)
		p.mu.Lock()
		p.lastIPs = append(p.lastIPs, ip.String())
		if len(p.lastIPs) > readers.RingSlots {
			p.lastIPs = p.lastIPs[1:]
		}
		p.lastAt = clock.Now()
		p.mu.Unlock()
		// A lookup counts once answered, or when the reader died on it; one
		// cut short because the harness asked the reader to stop does not.
		if _, err := io.WriteString(p.stdin, "lookup "+ip.String()+"\n"); err != nil {
			st.Lookups++
			publish()
			return
		}
		l, ok := next(nil)
		if !ok {
			select {
			case <-p.quit:
			default:
				st.Lookups++
			}
			publish()
			return
		}
		st.Lookups++
		var a readers.ForeignAnswer
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			p.garbage("lookup", l)
			publish()
			return
		}
		switch {
		case a.Error != "":
			st.Errors++
			event(readers.Event{Ev: "error", Op: "lookup", IP: ip.String(), Detail: truncate(a.Error, 4096)})
		default:
			if err := d.oracle.CheckJSON(ip, a.Record); err != nil {
				st.Wrong++
				event(readers.Event{Ev: "wrong", IP: ip.String(), Detail: err.Error()})
			} else {
				st.Right++
			}
		}
		publish()
	}
}

// bad records a protocol violation.
func (p *proc) bad(msg string) {
	p.mu.Lock()
	p.badLines = append(p.badLines, msg)
	p.mu.Unlock()
}

// garbage records an answer that is not the protocol's JSON and ends the
// reader: after a proper start, that is a reader that misbehaved.
func (p *proc) garbage(op, line string) {
	p.bad(fmt.Sprintf("answered %s with %q, which is not a JSON answer", op, truncate(line, 200)))
	p.mu.Lock()
	p.garbled = true
	p.mu.Unlock()
	p.signal(syscall.SIGKILL)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
