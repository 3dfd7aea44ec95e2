package engine

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mapchaos/mapchaos/crashes"
	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/internal/clock"
	"github.com/mapchaos/mapchaos/internal/lines"
	"github.com/mapchaos/mapchaos/internal/waitstatus"
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
	// ReadyTimeout bounds the wait for a reader's "ready". Default 10s
	// plus the time to read the larger version at SlowRead (a running
	// reader may read the whole file before it is ready).
	ReadyTimeout time.Duration
	// KeepData keeps the target and the versions in Dir after the run
	// (they are removed by default; logs, rings and stderr stay).
	KeepData bool
	// Install lays out the target as A (default writers.Install); an
	// environment that puts the target elsewhere (an overlay's lower
	// layer) gives its own.
	Install func(target, src string, props writers.Properties) error
	// ReaderView, when set, maps the target's path to the path the readers
	// open: the same files seen through another mount (an NFS client other
	// than the updater's). nil: readers open the target's own path.
	ReaderView func(target string) string

	readyDefault bool // ReadyTimeout is the default
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
		c.ReadyTimeout, c.readyDefault = 10*time.Second+c.openAllowance(), true
	}
	return c
}

// SlowRead is the rate (bytes/s) at which the engine allows a reader to
// read the target whole (os.ReadFile, or the pages a mapping reader
// touches) before it judges it: a cold read on a loaded machine.
const SlowRead = 16 << 20

// openAllowance is the time to read the larger version at SlowRead: how
// much longer than StuckAfter a reader inside an open or reload may go
// without progress, and (by default) longer than 10s to say ready.
func (c Config) openAllowance() time.Duration {
	return time.Duration(max(c.Pair.SizeA, c.Pair.SizeB) * int64(time.Second) / SlowRead)
}

// allowanceText says what openAllowance is made of.
func (c Config) allowanceText() string {
	return fmt.Sprintf("%s to read %.0f MiB at %d MiB/s", c.openAllowance().Round(time.Millisecond),
		float64(max(c.Pair.SizeA, c.Pair.SizeB))/(1<<20), SlowRead>>20)
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
	left     []string       // processes that outlived the updater or a reader
	mu       sync.Mutex     // guards procs and left
	stopping sync.WaitGroup // stopLater's stops still under way
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
	install := writers.Install
	if r.cfg.Install != nil {
		install = r.cfg.Install
	}
	if err := install(r.target, a, r.cfg.Writer.Properties); err != nil {
		return "", "", harnessErr("install target: %v", err)
	}
	return a, b, nil
}

// spawn starts reader id: a reader child, or the foreign reader of the
// config, which StartForeign has seen say "ready" once spawn returns.
func (r *run) spawn(id string, role results.Role, seed uint64) (*proc, error) {
	ring := filepath.Join(r.cfg.Dir, "readers", id+".ring")
	stderr := filepath.Join(r.cfg.Dir, "readers", id+".stderr")
	var p *proc
	var err error
	target := r.target
	if r.cfg.ReaderView != nil {
		target = r.cfg.ReaderView(target)
	}
	if fs, ok := r.cfg.Reader.Strategy.(readers.ForeignStrategy); ok && r.cfg.Reader.Command != nil {
		fs.Ready = r.cfg.ReadyTimeout
		p, err = startForeign(id, role, fs, target, stderr, driver{oracle: r.oracle, seed: seed, reload: r.cfg.Reload}, r.leftover)
		if errors.Is(err, ErrBadReader) {
			return nil, err
		}
	} else {
		args := readers.ChildArgs{Strategy: r.cfg.Reader.Name, Target: target, Universe: r.cfg.Pair.Universe,
			Starting: role == results.Starting, Seed: seed, Reload: r.cfg.Reload, Ring: ring}
		if r.cfg.Pair.Own() {
			args.OwnA, args.OwnB, args.Samples = r.versions[0], r.versions[1], r.samples
		}
		p, err = startChild(id, role, append(append([]string(nil), r.cfg.ReaderCmd...), args.Args()...), stderr, ring, r.cfg.Env)
	}
	if err != nil {
		return nil, harnessErr("%v", err)
	}
	r.mu.Lock()
	r.procs = append(r.procs, p)
	r.mu.Unlock()
	return p, nil
}

// awaitReady waits until the reader child p says ready: one that does not
// is a harness failure.
func (r *run) awaitReady(ctx context.Context, p *proc) error {
	err := p.waitReady(ctx, r.cfg.ReadyTimeout)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	}
	var nr *notReadyError
	if errors.As(err, &nr) && r.cfg.readyDefault {
		return harnessErr("%v (10s plus %s)", err, r.cfg.allowanceText())
	}
	return harnessErr("%v", err)
}

// leftover records a process that outlived the updater or a reader.
func (r *run) leftover(desc string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.left = append(r.left, desc)
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
	r.stopping.Wait()
}

// stopAll stops the given readers concurrently and waits for them: each
// gets 3s, and a reader inside an open (its last tick says so) 3s plus
// the open allowance from the start of that open, since it stops only
// once the open returns.
func (r *run) stopAll(ps []*proc) {
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() { defer wg.Done(); p.stop(3*time.Second, r.cfg.openAllowance(), r.cfg.allowanceText()) }()
	}
	wg.Wait()
}

// stopLater asks the given readers to stop now and waits for them (as
// stopAll) in the background; r.stopping is done once they are.
func (r *run) stopLater(ps []*proc) {
	r.stopping.Add(1)
	go func() { defer r.stopping.Done(); r.stopAll(ps) }()
}

// discard kills readers that were started but never asked to open the
// target, and forgets them: there is nothing of theirs to judge.
func (r *run) discard(ps []*proc) {
	for _, p := range ps {
		p.kill()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := r.procs[:0]
	for _, p := range r.procs {
		if !slices.Contains(ps, p) {
			kept = append(kept, p)
		}
	}
	r.procs = kept
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
			isStuck := r.stuck(p, now)
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

// stuck judges whether reader p has made no progress for too long at now,
// and records why; p.mu is held. Inside an open or reload (which moves no
// counter while it reads a large file whole) it may take StuckAfter plus
// the time to read the larger version at SlowRead.
func (r *run) stuck(p *proc, now int64) bool {
	if p.finished || p.stuck || !p.alive() || p.role != results.Running && p.openedAt == 0 {
		return false
	}
	since, limit := max(p.movedAt, p.openedAt), r.cfg.StuckAfter
	if p.opening != 0 {
		since, limit = max(since, p.opening), limit+r.cfg.openAllowance()
	}
	if time.Duration(now-since) <= limit {
		return false
	}
	p.stuck = true
	p.stuckWhy = fmt.Sprintf("no progress for %s", r.cfg.StuckAfter)
	if p.opening != 0 {
		p.stuckWhy = fmt.Sprintf("inside one open of the target for %s (allowed: stuck_after %s plus %s)",
			time.Duration(now-p.opening).Round(time.Millisecond), r.cfg.StuckAfter, r.cfg.allowanceText())
	}
	return true
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
	r.mu.Lock()
	res.Leftovers = append(res.Leftovers, r.left...)
	r.mu.Unlock()
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
	state := p.state
	p.mu.Unlock()
	ws, _ := state.Sys().(syscall.WaitStatus)
	stderr := head(p.stderr, 256<<10)
	if strings.HasPrefix(stderr, "mapchaos reader: ") {
		return outcome{}, harnessErr("reader %s could not run: %s", p.id, strings.TrimSpace(stderr))
	}
	last := r.lastLookups(p)
	stats.Lookups = max(stats.Lookups, last.n)
	end, why := r.endOf(p, ws, finished)
	o := outcome{verdict: verdicts.Judge(stats, r.cfg.Reader.PanicOnFault, end), stats: stats, failAt: -1}
	switch {
	case o.verdict == verdicts.Safe:
	case end == verdicts.Hung && o.verdict == verdicts.Stuck, end == verdicts.Died:
		o.ev = r.death(p, o.verdict, why, ws, stderr, last)
		o.failAt = o.ev.AtMS
	default:
		o.ev, o.failAt = r.fromEvents(o.verdict, stats, events)
	}
	if o.ev != nil {
		o.ev.Role, o.ev.Reader = p.role, p.id
	}
	return o, nil
}

// endOf is how reader p's process ended, and why in words.
func (r *run) endOf(p *proc, ws syscall.WaitStatus, finished bool) (verdicts.End, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	bad := strings.Join(p.badLines, "; ")
	switch {
	case p.stuck:
		return verdicts.Hung, p.stuckWhy + ": sent SIGQUIT, then SIGKILL"
	case p.garbled:
		return verdicts.Died, "broke the line protocol after starting properly: " + strings.TrimPrefix(bad, "broke the line protocol ")
	case p.killed:
		return verdicts.Hung, "did not stop " + p.stopWhy + ": sent SIGQUIT, then SIGKILL"
	case ws.Signaled():
		return verdicts.Died, "killed by " + crashes.Name(ws.Signal())
	case ws.ExitStatus() != 0:
		return verdicts.Died, fmt.Sprintf("exited with status %d", ws.ExitStatus())
	case !finished:
		return verdicts.Died, "exited 0 without reporting its final counts " + bad
	}
	return verdicts.Lived, ""
}

// lookups are a reader's last lookups and when the latest began.
type lookups struct {
	n    int64
	ips  []string
	last int64 // CLOCK_MONOTONIC ns, 0 if unknown
}

// lastLookups reads reader p's ring (a child's) or what drive kept (a
// foreign reader's).
func (r *run) lastLookups(p *proc) lookups {
	if p.fp != nil {
		p.mu.Lock()
		defer p.mu.Unlock()
		return lookups{ips: append([]string(nil), p.lastIPs...), last: p.lastAt}
	}
	ring, _ := readers.ReadRing(p.ring)
	l := lookups{n: ring.Lookups, last: ring.LastAt}
	for _, ip := range ring.Last {
		l.ips = append(l.ips, ip.String())
	}
	return l
}

// death is the evidence of a reader whose process ended badly (v): its
// wait status, its stderr read as a trace, its last lookups, and what the
// writer was doing between its last lookup and its death.
func (r *run) death(p *proc, v verdicts.Verdict, why string, ws syscall.WaitStatus, stderr string, last lookups) *results.Evidence {
	p.mu.Lock()
	exitAt, movedAt, stuck := p.exitAt, p.movedAt, p.stuck
	p.mu.Unlock()
	tr := crashes.Parse(stderr)
	ev := &results.Evidence{Outcome: v, ExitStatus: waitstatus.Describe(ws), Fatal: tr.Fatal,
		Signal: tr.Signal, SignalNumber: tr.SignalNumber, Code: tr.CodeName, Addr: tr.Addr,
		Trace: tr.Summary(8), Detail: why, Stderr: headString(stderr, 3000), LastLookups: last.ips[max(0, len(last.ips)-8):]}
	if ws.Signaled() && v == verdicts.Crash && (ev.Signal == "" || tr.Kind == "") {
		ev.Signal, ev.SignalNumber = crashes.Name(ws.Signal()), int(ws.Signal())
	}
	if in := tr.StuckIn(3); in != "" { // a SIGQUIT dump: where it was stuck
		ev.Detail += "; stuck in " + in
	}
	deathAt := exitAt
	if last.last > 0 {
		deathAt = last.last
	}
	ev.WriterStep, ev.AtMS = r.tl.during(deathAt, exitAt), r.tl.sinceStart(deathAt)
	if stuck {
		// Stuck since it last moved: that is when the writer matters.
		ev.WriterStep, ev.AtMS = r.tl.at(movedAt), r.tl.sinceStart(movedAt)
	}
	return ev
}

// fromEvents is the evidence of a reader that lived but met wrong answers,
// faults or errors (v): the first event of the kind that decided v, and
// the time of its first non-safe event.
func (r *run) fromEvents(v verdicts.Verdict, stats verdicts.Tally, events []readers.Event) (*results.Evidence, int64) {
	kind := map[verdicts.Verdict]string{verdicts.Corrupt: "wrong", verdicts.Recovered: "fault", verdicts.Degraded: "error"}[v]
	failAt := int64(-1)
	for _, e := range events {
		if e.Ev == "wrong" || e.Ev == "fault" || e.Ev == "error" {
			if ms := r.tl.sinceStart(e.T); failAt < 0 || ms < failAt {
				failAt = ms
			}
		}
	}
	ev := &results.Evidence{Outcome: v}
	for _, e := range events {
		if e.Ev == kind {
			r.describeEvent(ev, e)
			break
		}
	}
	ev.Detail += fmt.Sprintf(" [counts: %d right, %d wrong, %d lookup errors, %d faults, %d failed opens of %d lookups]",
		stats.Right, stats.Wrong, stats.Errors, stats.Faults, stats.OpenErrors, stats.Lookups)
	return ev, failAt
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
		ev.Fatal = "recovered: " + lines.First(e.Detail)
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

func headString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "\n..."
}
