package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/mapchaos/mapchaos/internal/clock"
	"github.com/mapchaos/mapchaos/results"
	"github.com/mapchaos/mapchaos/writers"
)

// race lays out the run directory, starts the running readers, makes the
// updates with their starting readers, lets every reader settle on the
// final version, stops them all and classifies each.
func (r *run) race(ctx context.Context) (results.Result, error) {
	cfg := r.cfg
	res := results.Result{Writer: cfg.Writer.Name, Reader: cfg.Reader.Name}
	verA, verB, err := r.prepare()
	if err != nil {
		return res, err
	}
	if err := r.startRunning(ctx); err != nil {
		return res, err
	}
	monCtx, stopMonitor := context.WithCancel(ctx)
	monDone := make(chan struct{})
	go func() { defer close(monDone); r.monitor(monCtx) }()
	defer func() { stopMonitor(); <-monDone }()

	u := updater{r: r, rng: rand.New(rand.NewPCG(seedFor(cfg.Seed, cfg.Writer.Name, cfg.Reader.Name), 1)), steps: map[string]int{}}
	var starters [][]*proc
	for seq := 1; seq <= cfg.Updates; seq++ {
		src, dir := verB, "A->B"
		if seq%2 == 0 {
			src, dir = verA, "B->A"
		}
		batch, werr, err := u.update(ctx, seq, src, dir)
		if err != nil {
			return res, err
		}
		starters = append(starters, batch)
		res.Updates = seq
		if werr != nil {
			res.WriterError = fmt.Sprintf("update %d (%s): %v", seq, dir, werr)
			if u.next != nil { // started for an update that will not come
				r.discard(u.next.ps)
			}
			break
		}
		// A starting reader lives through the update after its own: asked
		// to stop now, waited for before the end.
		if seq >= 2 {
			r.stopLater(starters[seq-2])
		}
		if err := sleep(ctx, cfg.Gap/2+time.Duration(u.rng.Int64N(int64(cfg.Gap)+1))); err != nil {
			return res, err
		}
	}
	// Let every reader reload onto the final version and use it.
	if err := sleep(ctx, 2*cfg.Reload); err != nil {
		return res, err
	}
	stopMonitor()
	<-monDone
	r.stopping.Wait()
	r.stopAll(r.all())
	return r.classifyAll(res)
}

// startRunning starts the running readers and waits until each has the
// target open.
func (r *run) startRunning(ctx context.Context) error {
	var running []*proc
	for i := 1; i <= r.cfg.Running; i++ {
		id := fmt.Sprintf("running-%d", i)
		p, err := r.spawn(id, results.Running, seedFor(r.cfg.Seed, id))
		if err != nil {
			return err
		}
		running = append(running, p)
	}
	for _, p := range running {
		if err := r.awaitReady(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// updater makes the updates of one race: each with its starting readers,
// which open the target at a step of the update drawn by the seed among
// the steps the same kind of update took last time.
type updater struct {
	r     *run
	rng   *rand.Rand
	steps map[string]int // steps of the last update by direction ("A->B")
	next  *starters      // the next update's starting readers, once started
}

// update makes update seq from src (direction dir) and returns its
// starting readers and the writer's error (a writer failure, not a
// harness one); err is a harness failure or ctx's error.
func (u *updater) update(ctx context.Context, seq int, src, dir string) (batch []*proc, werr, err error) {
	r := u.r
	s := u.next
	u.next = nil
	if s == nil {
		if s, err = u.spawnStarters(seq); err != nil {
			return nil, nil, err
		}
	}
	if err := s.awaitReady(ctx); err != nil {
		return nil, nil, err
	}
	// The next update's starting readers start while this one runs, so
	// no update waits for a process to start.
	if seq < r.cfg.Updates {
		if u.next, err = u.spawnStarters(seq + 1); err != nil {
			return nil, nil, err
		}
	}
	trigger := 1
	if n := u.steps[dir]; n > 1 {
		trigger = 1 + u.rng.IntN(n)
	}
	step := 0
	upd := writers.Update{Target: r.target, Source: src, Seq: seq, Leftover: r.leftover, Step: func(desc string) {
		step++
		r.tl.add(mark{t: clock.Now(), update: seq, of: r.cfg.Updates, dir: dir, step: step, desc: desc})
		if step == trigger {
			s.open()
		}
	}}
	werr = r.cfg.Writer.Writer.Update(ctx, upd)
	r.tl.add(mark{t: clock.Now(), update: seq, of: r.cfg.Updates, dir: dir})
	s.open()
	batch, err = s.wait()
	u.steps[dir] = step
	if werr != nil && ctx.Err() != nil {
		return batch, nil, ctx.Err()
	}
	return batch, werr, err
}

// starters are the starting readers of one update.
type starters struct {
	r    *run
	seq  int
	once sync.Once
	wg   sync.WaitGroup
	mu   sync.Mutex
	ps   []*proc
	err  error
}

// spawnStarters starts the reader children of update seq, which wait for
// "open"; a foreign reader opens the target as it starts, so it is
// started only when the update reaches its step.
func (u *updater) spawnStarters(seq int) (*starters, error) {
	s := &starters{r: u.r, seq: seq}
	if u.r.cfg.Reader.Command != nil {
		return s, nil
	}
	for i := 1; i <= u.r.cfg.Starting; i++ {
		id := fmt.Sprintf("starting-u%02d-%d", seq, i)
		p, err := u.r.spawn(id, results.Starting, seedFor(u.r.cfg.Seed, id))
		if err != nil {
			return nil, err
		}
		s.ps = append(s.ps, p)
	}
	return s, nil
}

// awaitReady waits until every reader child of s has said "ready".
func (s *starters) awaitReady(ctx context.Context) error {
	for _, p := range s.ps {
		if err := s.r.awaitReady(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// open makes the starting readers open the target now, once.
func (s *starters) open() {
	s.once.Do(func() {
		now := clock.Now()
		for _, p := range s.ps {
			p.mu.Lock()
			p.openedAt = now
			p.mu.Unlock()
			p.send("open")
		}
		if s.r.cfg.Reader.Command == nil {
			return
		}
		for i := 1; i <= s.r.cfg.Starting; i++ {
			s.wg.Add(1)
			go s.startForeign(fmt.Sprintf("starting-u%02d-%d", s.seq, i), now)
		}
	})
}

func (s *starters) startForeign(id string, now int64) {
	defer s.wg.Done()
	p, err := s.r.spawn(id, results.Starting, seedFor(s.r.cfg.Seed, id))
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.err = err
		return
	}
	p.mu.Lock()
	p.openedAt = now
	p.mu.Unlock()
	s.ps = append(s.ps, p)
}

// wait waits until every starting reader has been started.
func (s *starters) wait() ([]*proc, error) {
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ps, s.err
}
