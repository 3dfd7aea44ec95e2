package engine

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"time"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/internal/clock"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/results"
	"github.com/mapchaos/mapchaos/verdicts"
)

// ErrBadReader marks a foreign reader that does not follow the line
// protocol before it has started properly (no "ready", garbage instead).
// It is readers.ErrBadForeign, which step mode returns for the same fault.
var ErrBadReader = readers.ErrBadForeign

// driver holds what the harness needs to drive a foreign reader: it asks
// `lookup IP` and `reload` and judges every answer itself.
type driver struct {
	oracle fixtures.Oracle
	seed   uint64
	reload time.Duration
}

// startForeign starts the foreign reader s on target (its stderr going to
// stderrPath), waits for its "ready" (readers.StartForeign), and drives it
// until asked to quit or until it dies.
func startForeign(id string, role results.Role, s readers.ForeignStrategy, target, stderrPath string, d driver, left func(string)) (*proc, error) {
	errf, err := os.Create(stderrPath)
	if err != nil {
		return nil, fmt.Errorf("reader %s: %w", id, err)
	}
	s.Stderr = errf
	fp, err := readers.StartForeign(s, target)
	var died *readers.DiedError
	switch {
	case errors.As(err, &died) && role == results.Starting:
		// A reader starting in the middle of an update that cannot start
		// there: that is what it met, not bad input.
		errf.Close()
		return failedStart(id, role, stderrPath, died), nil
	case err != nil:
		errf.Close()
		return nil, fmt.Errorf("reader %s: %w", id, err)
	}
	p := newProc(id, role, stderrPath, "")
	p.fp, p.left = fp, left
	p.readyAt = clock.Now()
	close(p.ready)
	go func() {
		defer errf.Close()
		p.drive(d)
	}()
	return p, nil
}

// failedStart is a starting reader that ended (d) before it said ready.
func failedStart(id string, role results.Role, stderrPath string, d *readers.DiedError) *proc {
	p := newProc(id, role, stderrPath, "")
	p.badLines = append(p.badLines, d.Status)
	p.stuck = d.Stuck
	p.ended(d.State)
	return p
}

// drive asks the reader its lookups, and to reload every d.reload, until
// asked to quit or until the reader dies; then it ends and reaps it. The
// counters and events it records are those a reader child would have
// sent, so a foreign reader is classified like any other.
func (p *proc) drive(d driver) {
	rng := rand.New(rand.NewPCG(d.seed, 0x6d61706368616f73))
	t := verdicts.Tally{Opens: 1}
	lastReload := time.Now()
	for !p.quitting() {
		if d.reload > 0 && time.Since(lastReload) >= d.reload {
			lastReload = time.Now()
			if !p.reload(&t) {
				break
			}
		}
		ip := d.oracle.Sample(rng)
		p.noteIP(ip)
		raw, err := p.fp.LookupJSON(ip)
		var died *readers.DiedError
		if errors.As(err, &died) {
			// A lookup cut short by the harness's own stop does not count;
			// one the reader died on does.
			if !p.quitting() {
				t.Lookups++
			}
			break
		}
		j := readers.JudgeJSON(d.oracle, ip, raw, err)
		t.Count(j.Answer)
		p.event(j)
		p.publish(t)
	}
	p.publish(t)
	p.end()
}

// reload asks the reader to reopen the target; false when it died.
func (p *proc) reload(t *verdicts.Tally) bool {
	err := p.fp.Reload()
	var died *readers.DiedError
	switch {
	case errors.As(err, &died):
		return false
	case err != nil:
		t.OpenErrors++
		p.record(readers.Event{Ev: "error", Op: "reload", Detail: err.Error()})
	default:
		t.Opens++
	}
	return true
}

// end ends and reaps the foreign reader: normally when the harness asked
// it to quit, or as it died.
func (p *proc) end() {
	if p.quitting() {
		p.mu.Lock()
		p.finished = true
		p.mu.Unlock()
		var died *readers.DiedError
		if err := p.fp.Close(); errors.As(err, &died) && died.Stuck {
			p.mu.Lock()
			p.killed = true
			p.mu.Unlock()
		}
	}
	d := p.fp.Ended()
	if d == nil { // a Close that failed otherwise: the process is reaped
		d = &readers.DiedError{}
	}
	for _, l := range d.Leftovers {
		p.left(l)
	}
	if d.Broke {
		p.mu.Lock()
		p.garbled = true
		p.badLines = append(p.badLines, d.Status)
		p.mu.Unlock()
	}
	p.ended(d.State)
}

func (p *proc) quitting() bool {
	select {
	case <-p.quit:
		return true
	default:
		return false
	}
}

// noteIP keeps the reader's last lookups, as a child's ring would.
func (p *proc) noteIP(ip netip.Addr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastIPs = append(p.lastIPs, ip.String())
	if len(p.lastIPs) > readers.RingSlots {
		p.lastIPs = p.lastIPs[1:]
	}
	p.lastAt = clock.Now()
}

// publish records the counters so far.
func (p *proc) publish(t verdicts.Tally) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counted(t)
}

// event records a wrong or failed answer as a child would report it.
func (p *proc) event(j readers.Judged) {
	switch j.Answer {
	case verdicts.Wrong:
		p.record(readers.Event{Ev: "wrong", IP: j.IP.String(), Detail: j.Detail()})
	case verdicts.Failed:
		p.record(readers.Event{Ev: "error", Op: "lookup", IP: j.IP.String(), Detail: j.Err.Error()})
	}
}

// record keeps the first few events of each kind.
func (p *proc) record(e readers.Event) {
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
