package engine

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mapchaos/mapchaos/crashes"
	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/internal/clock"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/results"
	"github.com/mapchaos/mapchaos/verdicts"
	"github.com/mapchaos/mapchaos/writers"
)

// Config is one combination to race.
type Config struct {
	Writer writers.Strategy
	Reader readers.Registration
	Pair   fixtures.Pair
	// Dir is the private run directory. It is created and must not exist
	// yet, or be empty. Nothing outside it is written.
	Dir string
	// ReaderCmd is the argv prefix that starts a reader child, e.g.
	// {"/usr/local/bin/mapchaos", "reader"}; readers.ChildArgs are appended.
	ReaderCmd []string
	// Updates is the number of updates (A->B, B->A, ...). Default 16.
	Updates int
	// Running is the number of running readers. Default (0) 2; -1 none.
	Running int
	// Starting is the number of starting readers per update. Default (0)
	// 1; -1 none.
	Starting int
	// Reload is how often readers reopen the target. Default 50ms.
	Reload time.Duration
	// Gap is the mean pause between updates. Default 40ms.
	Gap time.Duration
	// StuckAfter: a reader whose counters do not move for this long is
	// stuck. Default 5s.
	StuckAfter time.Duration
	// Seed drives the IPs the readers look up, the gaps and the step at
	// which starting readers open the target.
	Seed int64
	// Repro is the command that runs this combination again, for evidence.
	Repro string
	// Env is the environment of the reader children (default os.Environ()).
	Env []string
	// ReadyTimeout bounds the wait for a reader's "ready". Default 10s.
	ReadyTimeout time.Duration
	// KeepData keeps the target and the versions in Dir after the run
	// (they are removed by default; logs, rings and stderr stay).
	KeepData bool
}

func (c Config) withDefaults() Config {
	if c.Updates == 0 {
		c.Updates = 16
	}
	switch {
	case c.Running == 0:
		c.Running = 2
	case c.Running < 0: // explicitly none
		c.Running = 0
	}
	switch {
	case c.Starting == 0:
		c.Starting = 1
	case c.Starting < 0:
		c.Starting = 0
	}
	if c.Reload == 0 {
		c.Reload = 50 * time.Millisecond
	}
	if c.Gap == 0 {
		c.Gap = 40 * time.Millisecond
	}
	if c.StuckAfter == 0 {
		c.StuckAfter = 5 * time.Second
	}
	if c.Env == nil {
		c.Env = os.Environ()
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = 10 * time.Second
	}
	return c
}

func (c Config) validate() error {
	var errs []string
	if c.Writer.Writer == nil {
		errs = append(errs, "no writer strategy")
	}
	if c.Reader.Name == "" {
		errs = append(errs, "no reader strategy")
	}
	if c.Pair.A == "" || c.Pair.B == "" {
		errs = append(errs, "no fixture pair")
	}
	if c.Dir == "" {
		errs = append(errs, "no run directory")
	}
	if len(c.ReaderCmd) == 0 {
		errs = append(errs, "no reader command")
	}
	if c.Updates < 1 || c.Running+c.Starting == 0 {
		errs = append(errs, fmt.Sprintf("updates %d, running %d, starting %d: want at least one update and one reader", c.Updates, c.Running, c.Starting))
	}
	if len(errs) > 0 {
		return fmt.Errorf("engine config: %s", strings.Join(errs, "; "))
	}
	return nil
}

// ErrHarness marks a failure of the harness itself (not a verdict).
var ErrHarness = errors.New("harness failure")

// Run races cfg.Writer against cfg.Reader and returns what happened. An
// error means the harness could not do its job (ErrHarness) or ctx ended;
// a writer that fails is reported in Result.WriterError. Every reader
// process is reaped before Run returns.
func Run(ctx context.Context, cfg Config) (results.Result, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return results.Result{}, err
	}
	r := &run{cfg: cfg, tl: &timeline{}}
	defer r.killAll()
	began := time.Now()
	res, err := r.race(ctx)
	if err != nil {
		return res, err
	}
	res.DurationMS = time.Since(began).Milliseconds()
	r.writeLog()
	if !cfg.KeepData {
		_ = os.RemoveAll(filepath.Join(cfg.Dir, "data"))
		_ = os.RemoveAll(filepath.Join(cfg.Dir, "versions"))
	}
	return res, nil
}

type run struct {
	cfg    Config
	tl     *timeline
	target string
	// versions are the run's read-only copies of A and B; samples the
	// file of IPs to look up, for a user's own pair; oracle judges a
	// foreign reader's answers in the harness.
	versions [2]string
	samples  string
	oracle   fixtures.Oracle
	procs    []*proc
	mu       sync.Mutex // guards procs
}

func harnessErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrHarness, fmt.Sprintf(format, a...))
}

// prepare lays out the run directory and installs A as the target.
func (r *run) prepare() (a, b string, err error) {
	d := r.cfg.Dir
	if ents, err := os.ReadDir(d); err == nil && len(ents) > 0 {
		return "", "", harnessErr("run directory %s is not empty", d)
	}
	for _, sub := range []string{"data", "versions", "readers"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			return "", "", harnessErr("run directory: %v", err)
		}
	}
	a, b = filepath.Join(d, "versions", "A.mmdb"), filepath.Join(d, "versions", "B.mmdb")
	if err := fixtures.CopyReadOnly(r.cfg.Pair.A, a); err != nil {
		return "", "", harnessErr("%v", err)
	}
	if err := fixtures.CopyReadOnly(r.cfg.Pair.B, b); err != nil {
		return "", "", harnessErr("%v", err)
	}
	r.versions = [2]string{a, b}
	r.oracle = r.cfg.Pair.Universe
	if r.cfg.Pair.Own() {
		// A user's own pair: the children judge answers against pristine
		// copies (these read-only files) and look up the sampled IPs.
		r.samples = filepath.Join(d, "versions", "samples.txt")
		if err := os.WriteFile(r.samples, []byte(strings.Join(r.cfg.Pair.Samples, "\n")+"\n"), 0o444); err != nil {
			return "", "", harnessErr("samples: %v", err)
		}
		// Only a foreign reader is judged here, in the harness: reader
		// children load their own pristine copies.
		if r.cfg.Reader.Command != nil {
			if r.oracle, err = fixtures.OpenPristine(a, b, r.cfg.Pair.Samples); err != nil {
				return "", "", harnessErr("%v", err)
			}
		}
	}
	r.target = filepath.Join(d, "data", "db.mmdb")
	if err := writers.Install(r.target, a, r.cfg.Writer.Properties); err != nil {
		return "", "", harnessErr("install target: %v", err)
	}
	return a, b, nil
}

func (r *run) spawn(id string, role results.Role, seed uint64) (*proc, error) {
	ring := filepath.Join(r.cfg.Dir, "readers", id+".ring")
	stderr := filepath.Join(r.cfg.Dir, "readers", id+".stderr")
	var argv []string
	var d *driver
	if cmd := r.cfg.Reader.Command; cmd != nil {
		// A foreign reader: its own command, driven over the line protocol.
		for _, a := range cmd {
			if a == "{target}" {
				a = r.target
			}
			argv = append(argv, a)
		}
		d = &driver{oracle: r.oracle, seed: seed, reload: r.cfg.Reload, ready: r.cfg.ReadyTimeout}
	} else {
		args := readers.ChildArgs{Strategy: r.cfg.Reader.Name, Target: r.target, Universe: r.cfg.Pair.Universe,
			Starting: role == results.Starting, Seed: seed, Reload: r.cfg.Reload, Ring: ring}
		if r.cfg.Pair.Own() {
			args.OwnA, args.OwnB, args.Samples = r.versions[0], r.versions[1], r.samples
		}
		argv = append(append([]string(nil), r.cfg.ReaderCmd...), args.Args()...)
	}
	p, err := startProc(id, role, argv, stderr, ring, r.cfg.Env, d)
	if err != nil {
		if d != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadReader, err)
		}
		return nil, harnessErr("%v", err)
	}
	r.mu.Lock()
	r.procs = append(r.procs, p)
	r.mu.Unlock()
	return p, nil
}

// awaitReady waits until p says ready. A foreign reader that does not is
// bad input (ErrBadReader); a reader child that does not is a harness failure.
func (r *run) awaitReady(ctx context.Context, p *proc) error {
	err := p.waitReady(ctx, r.cfg.ReadyTimeout)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case p.foreign:
		p.mu.Lock()
		bad := strings.Join(p.badLines, "; ")
		p.mu.Unlock()
		if bad != "" {
			return fmt.Errorf("%w: reader %s: %s", ErrBadReader, p.id, bad)
		}
		return fmt.Errorf("%w: %v (a foreign reader must print \"ready\" once it has opened the target)", ErrBadReader, err)
	}
	return harnessErr("%v", err)
}

func (r *run) all() []*proc {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*proc(nil), r.procs...)
}

// killAll kills and reaps every child still alive: the last line of defence
// on every path out of Run.
func (r *run) killAll() {
	for _, p := range r.all() {
		if p.alive() {
			p.kill()
		}
	}
}

// stopAll stops the given readers concurrently and waits for them.
func stopAll(ps []*proc) {
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() { defer wg.Done(); p.stop(3 * time.Second) }()
	}
	wg.Wait()
}

func seedFor(seed int64, parts ...string) uint64 {
	h := fnv.New64a()
	fmt.Fprint(h, seed)
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return h.Sum64()
}

func (r *run) race(ctx context.Context) (results.Result, error) {
	cfg := r.cfg
	res := results.Result{Writer: cfg.Writer.Name, Reader: cfg.Reader.Name}
	verA, verB, err := r.prepare()
	if err != nil {
		return res, err
	}
	rng := rand.New(rand.NewPCG(seedFor(cfg.Seed, cfg.Writer.Name, cfg.Reader.Name), 1))

	var running []*proc
	for i := 1; i <= cfg.Running; i++ {
		id := fmt.Sprintf("running-%d", i)
		p, err := r.spawn(id, results.Running, seedFor(cfg.Seed, id))
		if err != nil {
			return res, err
		}
		running = append(running, p)
	}
	for _, p := range running {
		if err := r.awaitReady(ctx, p); err != nil {
			return res, err
		}
	}

	monCtx, stopMonitor := context.WithCancel(ctx)
	monDone := make(chan struct{})
	go func() { defer close(monDone); r.monitor(monCtx) }()
	defer func() { stopMonitor(); <-monDone }()

	stepsSeen := map[string]int{}
	var starters [][]*proc
	for u := 1; u <= cfg.Updates; u++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		src, dir := verB, "A->B"
		if u%2 == 0 {
			src, dir = verA, "B->A"
		}
		// Reader children are started now and told to open the target at
		// a step of the update; a foreign reader opens the target as it
		// starts, so it is started at that step.
		var batch []*proc
		foreign := cfg.Reader.Command != nil
		for i := 1; i <= cfg.Starting && !foreign; i++ {
			id := fmt.Sprintf("starting-u%02d-%d", u, i)
			p, err := r.spawn(id, results.Starting, seedFor(cfg.Seed, id))
			if err != nil {
				return res, err
			}
			batch = append(batch, p)
		}
		for _, p := range batch {
			if err := r.awaitReady(ctx, p); err != nil {
				return res, err
			}
		}
		// Starting readers open the target at a step of the update drawn
		// by the seed among the steps this kind of update took last time.
		trigger := 1
		if n := stepsSeen[dir]; n > 1 {
			trigger = 1 + rng.IntN(n)
		}
		step := 0
		var spawning sync.WaitGroup
		var spawnErr error
		var spawnMu sync.Mutex
		opened := false
		openAll := func() {
			opened = true
			now := clock.Now()
			for _, p := range batch {
				p.mu.Lock()
				p.openedAt = now
				p.mu.Unlock()
				p.send("open")
			}
			for i := 1; i <= cfg.Starting && foreign; i++ {
				id := fmt.Sprintf("starting-u%02d-%d", u, i)
				spawning.Add(1)
				go func() {
					defer spawning.Done()
					p, err := r.spawn(id, results.Starting, seedFor(cfg.Seed, id))
					spawnMu.Lock()
					defer spawnMu.Unlock()
					if err != nil {
						spawnErr = err
						return
					}
					p.mu.Lock()
					p.openedAt = now
					p.mu.Unlock()
					batch = append(batch, p)
				}()
			}
		}
		upd := writers.Update{Target: r.target, Source: src, Seq: u, Step: func(desc string) {
			step++
			r.tl.add(mark{t: clock.Now(), update: u, of: cfg.Updates, dir: dir, step: step, desc: desc})
			if step == trigger {
				openAll()
			}
		}}
		werr := cfg.Writer.Writer.Update(ctx, upd)
		r.tl.add(mark{t: clock.Now(), update: u, of: cfg.Updates, dir: dir})
		if !opened {
			openAll()
		}
		spawning.Wait()
		if spawnErr != nil {
			return res, spawnErr
		}
		starters = append(starters, batch)
		stepsSeen[dir] = step
		res.Updates = u
		if werr != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			res.WriterError = fmt.Sprintf("update %d (%s): %v", u, dir, werr)
			break
		}
		// A starting reader lives through the update after its own.
		if u >= 2 {
			stopAll(starters[u-2])
		}
		gap := cfg.Gap/2 + time.Duration(rng.Int64N(int64(cfg.Gap)+1))
		select {
		case <-time.After(gap):
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	// Let every reader reload onto the final version and use it.
	select {
	case <-time.After(2 * cfg.Reload):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	stopMonitor()
	<-monDone
	stopAll(r.all())
	return r.classifyAll(res)
}

// monitor kills readers that stop making progress.
func (r *run) monitor(ctx context.Context) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := clock.Now()
		for _, p := range r.all() {
			select {
			case <-p.ready:
			default:
				continue
			}
			p.mu.Lock()
			since := max(p.movedAt, p.openedAt)
			active := !p.finished && !p.stuck && (p.role == results.Running || p.openedAt != 0)
			isStuck := active && p.alive() && time.Duration(now-since) > r.cfg.StuckAfter
			if isStuck {
				p.stuck = true
			}
			p.mu.Unlock()
			if isStuck {
				// A Go reader answers SIGQUIT with a dump of its goroutines:
				// evidence of where it is stuck. Then it must go.
				p.signal(syscall.SIGQUIT)
				go func() {
					select {
					case <-p.done:
					case <-time.After(time.Second):
						p.signal(syscall.SIGKILL)
					}
				}()
			}
		}
	}
}

func (r *run) writeLog() {
	lines := r.tl.log()
	_ = os.WriteFile(filepath.Join(r.cfg.Dir, "timeline.log"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// classifyAll turns every reader's end into an outcome and the combination
// into a Result.
func (r *run) classifyAll(res results.Result) (results.Result, error) {
	res.Roles = map[results.Role]results.RoleResult{}
	var best *results.Evidence
	var firstFail int64 = -1
	var rates []float64
	for _, p := range r.all() {
		o, err := r.classify(p)
		if err != nil {
			return res, err
		}
		res.Counts.Add(o.verdict)
		rr := res.Roles[p.role]
		rr.Counts.Add(o.verdict)
		rr.Readers++
		rr.Verdict = rr.Counts.Worst()
		res.Roles[p.role] = rr
		res.Lookups += o.stats.Lookups
		res.Answers.Add(o.stats)
		if p.role == results.Running {
			p.mu.Lock()
			life := float64(p.exitAt-p.readyAt) / 1e9
			p.mu.Unlock()
			if life > 0 {
				rates = append(rates, float64(o.stats.Lookups)/life)
			}
		}
		if o.failAt >= 0 && (firstFail < 0 || o.failAt < firstFail) {
			firstFail = o.failAt
		}
		if o.ev != nil && (best == nil || o.ev.Outcome > best.Outcome || (o.ev.Outcome == best.Outcome && o.ev.AtMS < best.AtMS)) {
			best = o.ev
		}
	}
	res.Verdict = res.Counts.Worst()
	if firstFail >= 0 {
		ms := firstFail
		res.FirstFailureMS = &ms
	}
	if best != nil {
		best.Repro = r.cfg.Repro
		res.Evidence = best
	}
	for _, x := range rates {
		res.LookupsPerSec += x / float64(len(rates))
	}
	return res, nil
}

type outcome struct {
	verdict verdicts.Verdict
	stats   verdicts.Tally
	ev      *results.Evidence // nil for safe
	failAt  int64             // ms since the first update of the first non-safe event, -1 if none
}

func (r *run) classify(p *proc) (outcome, error) {
	stats, events, finished := p.snapshot()
	p.mu.Lock()
	state, exitAt, stuck, killed := p.state, p.exitAt, p.stuck, p.killed
	p.mu.Unlock()
	ring, _ := readers.ReadRing(p.ring)
	stats.Lookups = max(stats.Lookups, ring.Lookups)
	lastIPs := make([]string, 0, len(ring.Last))
	for _, ip := range ring.Last {
		lastIPs = append(lastIPs, ip.String())
	}
	p.mu.Lock()
	garbled := p.garbled
	if p.foreign {
		lastIPs, ring.LastAt = append([]string(nil), p.lastIPs...), p.lastAt
	}
	p.mu.Unlock()
	o := outcome{stats: stats, failAt: -1}
	ev := &results.Evidence{Role: p.role, Reader: p.id}
	stderr := head(p.stderr, 256<<10)
	ws, _ := state.Sys().(syscall.WaitStatus)
	if strings.HasPrefix(stderr, "mapchaos reader: ") {
		return o, harnessErr("reader %s could not run: %s", p.id, strings.TrimSpace(stderr))
	}
	deathAt := exitAt
	if ring.LastAt > 0 {
		deathAt = ring.LastAt
	}
	death := func(v verdicts.Verdict, detail string) {
		tr := crashes.Parse(stderr)
		ev.Outcome = v
		ev.ExitStatus = describeStatus(ws)
		ev.Fatal = tr.Fatal
		ev.Signal, ev.SignalNumber, ev.Code, ev.Addr = tr.Signal, tr.SignalNumber, tr.CodeName, tr.Addr
		if ws.Signaled() && v == verdicts.Crash && (ev.Signal == "" || tr.Kind == "") {
			ev.Signal, ev.SignalNumber = crashes.Name(ws.Signal()), int(ws.Signal())
		}
		ev.Trace = tr.Summary(8)
		ev.Detail = detail
		ev.Stderr = headString(stderr, 3000)
		ev.LastLookups = lastIPs[max(0, len(lastIPs)-8):]
		ev.WriterStep = r.tl.during(deathAt, exitAt)
		ev.AtMS = r.tl.sinceStart(deathAt)
		o.verdict, o.ev, o.failAt = v, ev, ev.AtMS
	}
	switch {
	case stuck:
		death(verdicts.Stuck, fmt.Sprintf("no progress for %s: sent SIGQUIT, then SIGKILL", r.cfg.StuckAfter))
		p.mu.Lock()
		deathAt = p.movedAt
		p.mu.Unlock()
		ev.WriterStep, ev.AtMS = r.tl.at(deathAt), r.tl.sinceStart(deathAt)
		o.failAt = ev.AtMS
		return o, nil
	case garbled:
		p.mu.Lock()
		bad := strings.Join(p.badLines, "; ")
		p.mu.Unlock()
		death(verdicts.Crash, "broke the line protocol after starting properly: "+bad+"; the harness killed it")
		return o, nil
	case killed:
		death(verdicts.Stuck, "did not stop within 3s of being asked: killed")
		return o, nil
	case ws.Signaled():
		death(verdicts.Crash, "killed by "+crashes.Name(ws.Signal()))
		return o, nil
	case ws.ExitStatus() != 0:
		death(verdicts.Crash, fmt.Sprintf("exited with status %d", ws.ExitStatus()))
		return o, nil
	case !finished:
		p.mu.Lock()
		bad := strings.Join(p.badLines, "; ")
		p.mu.Unlock()
		death(verdicts.Crash, "exited 0 without reporting its final counts "+bad)
		return o, nil
	}
	// The reader lived: judge it from its counters, evidence from its events.
	kind := ""
	switch {
	case stats.Wrong > 0:
		o.verdict, kind = verdicts.Corrupt, "wrong"
	case stats.Faults > 0:
		o.verdict, kind = verdicts.Recovered, "fault"
	case stats.Errors > 0 || stats.OpenErrors > 0:
		o.verdict, kind = verdicts.Degraded, "error"
	default:
		return o, nil
	}
	for _, e := range events {
		if e.Ev == "wrong" || e.Ev == "fault" || e.Ev == "error" {
			if ms := r.tl.sinceStart(e.T); o.failAt < 0 || ms < o.failAt {
				o.failAt = ms
			}
		}
	}
	ev.Outcome = o.verdict
	for _, e := range events {
		if e.Ev != kind {
			continue
		}
		r.describeEvent(ev, e)
		break
	}
	ev.Detail += fmt.Sprintf(" [counts: %d right, %d wrong, %d lookup errors, %d faults, %d failed opens of %d lookups]",
		stats.Right, stats.Wrong, stats.Errors, stats.Faults, stats.OpenErrors, stats.Lookups)
	o.ev = ev
	return o, nil
}

// describeEvent fills ev from a reader's event e.
func (r *run) describeEvent(ev *results.Evidence, e readers.Event) {
	ev.AtMS = r.tl.sinceStart(e.T)
	ev.WriterStep = r.tl.at(e.T)
	switch e.Ev {
	case "wrong":
		ev.Detail = fmt.Sprintf("wrong answer for %s: %s", e.IP, e.Detail)
	case "fault":
		tr := crashes.Parse(e.Detail)
		ev.Addr = e.Addr
		ev.Fatal = "recovered: " + firstLine(e.Detail)
		ev.Trace = tr.Summary(8)
		what := "lookup of " + e.IP
		if e.Op != "lookup" {
			what = e.Op + " of the target"
		}
		ev.Detail = fmt.Sprintf("memory fault at %s recovered during %s (SetPanicOnFault; the runtime does not report which signal)", e.Addr, what)
	case "error":
		ev.Detail = fmt.Sprintf("%s failed: %s", e.Op, e.Detail)
	}
}

func describeStatus(ws syscall.WaitStatus) string {
	switch {
	case ws.Signaled():
		s := "killed by " + crashes.Name(ws.Signal())
		if ws.CoreDump() {
			s += " (core dumped)"
		}
		return s
	case ws.Exited():
		return fmt.Sprintf("exit %d", ws.ExitStatus())
	}
	return fmt.Sprintf("wait status %#x", uint32(ws))
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func headString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "\n..."
}
