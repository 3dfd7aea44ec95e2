package readers

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/internal/clock"
	"github.com/mapchaos/mapchaos/verdicts"
)

// Event is one JSON line a reader child writes on its stdout.
//
//	{"ev":"ready"}                       running: the target is open; starting: waiting for "open"
//	{"ev":"tick", "stats":{...}}         every TickEvery, the counts so far;
//	                                      "opening": since when (ns) it is inside an open
//	                                      or reload of the target, when it is
//	{"ev":"wrong","ip":..,"detail":..}   a wrong answer (the first few)
//	{"ev":"error","op":..,"detail":..}   a failed open, reload or lookup (the first few)
//	{"ev":"fault","addr":..,"detail":..} a recovered memory fault (the first few)
//	{"ev":"done", "stats":{...}}         the final counts, after "stop" or end of input
//
// The parent writes "open" (starting readers: open the target now) and
// "stop" (or closes stdin) on the child's stdin.
type Event struct {
	Ev     string          `json:"ev"`
	T      int64           `json:"t"` // CLOCK_MONOTONIC ns
	Op     string          `json:"op,omitempty"`
	IP     string          `json:"ip,omitempty"`
	Addr   string          `json:"addr,omitempty"`
	Detail string          `json:"detail,omitempty"`
	Stats  *verdicts.Tally `json:"stats,omitempty"`
	// Opening, in a tick, is when (CLOCK_MONOTONIC ns) the open or reload
	// the reader is inside began, 0 when it is not in one: reading a large
	// file whole moves no counter for a while.
	Opening int64 `json:"opening,omitempty"`
}

// TickEvery is how often a child reports its counters: often enough for
// stuck_after (seconds) and a crash's last counts, and rarely enough that
// the harness, which decodes every tick of every reader, does not take CPU
// from the writer under emulation (20 ms made a raced arm64 guest run 7%
// slower).
const TickEvery = 100 * time.Millisecond

// eventsPerKind bounds the detailed events of one kind a child sends.
const eventsPerKind = 4

// ChildArgs are the command-line arguments of a reader child.
type ChildArgs struct {
	Strategy string
	Target   string
	Universe fixtures.Universe // the oracle of a generated pair
	// OwnA, OwnB and Samples (file paths) make the oracle a user's own
	// pair instead: pristine copies of both and the IPs to look up.
	OwnA, OwnB, Samples string
	Starting            bool          // wait for "open" before opening
	Seed                uint64        // seeds the IPs looked up
	Reload              time.Duration // reopen the target this often (0: never)
	Ring                string        // ring file path ("" for none)
}

// Args renders a as the arguments RunChild parses.
func (a ChildArgs) Args() []string {
	role := "running"
	if a.Starting {
		role = "starting"
	}
	args := []string{"-strategy", a.Strategy, "-target", a.Target,
		"-role", role, "-seed", fmt.Sprint(a.Seed), "-reload", a.Reload.String(), "-ring", a.Ring}
	if a.OwnA != "" {
		return append(args, "-own-a", a.OwnA, "-own-b", a.OwnB, "-samples", a.Samples)
	}
	return append(args, "-universe", a.Universe.String())
}

// oracle returns what judges the child's answers.
func (a ChildArgs) oracle() (fixtures.Oracle, error) {
	if a.OwnA == "" {
		return a.Universe, nil
	}
	b, err := os.ReadFile(a.Samples)
	if err != nil {
		return nil, fmt.Errorf("-samples: %w", err)
	}
	return fixtures.OpenPristine(a.OwnA, a.OwnB, strings.Fields(string(b)))
}

func parseChildArgs(args []string, stderr io.Writer) (ChildArgs, error) {
	fs := flag.NewFlagSet("mapchaos reader", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var a ChildArgs
	var uni, role string
	fs.StringVar(&a.Strategy, "strategy", "", "reader strategy name")
	fs.StringVar(&a.Target, "target", "", "path of the target")
	fs.StringVar(&uni, "universe", "", "fixture universe FIRST+BLOCKS:KEY")
	fs.StringVar(&role, "role", "running", "running or starting")
	fs.Uint64Var(&a.Seed, "seed", 1, "seed of the looked-up IPs")
	fs.DurationVar(&a.Reload, "reload", 50*time.Millisecond, "reload interval")
	fs.StringVar(&a.Ring, "ring", "", "ring file for the last lookups")
	fs.StringVar(&a.OwnA, "own-a", "", "pristine copy of the old version of a user's own pair")
	fs.StringVar(&a.OwnB, "own-b", "", "pristine copy of the new version of a user's own pair")
	fs.StringVar(&a.Samples, "samples", "", "file of the IPs to look up in a user's own pair")
	if err := fs.Parse(args); err != nil {
		return a, err
	}
	if a.OwnA == "" {
		var err error
		if a.Universe, err = fixtures.ParseUniverse(uni); err != nil {
			return a, err
		}
	} else if a.OwnB == "" || a.Samples == "" {
		return a, errors.New("-own-a needs -own-b and -samples")
	}
	switch role {
	case "running":
	case "starting":
		a.Starting = true
	default:
		return a, fmt.Errorf("-role %q: want running or starting", role)
	}
	if a.Target == "" {
		return a, errors.New("-target is required")
	}
	return a, nil
}

// RunChild is the reader child program (`mapchaos reader ARGS`). It returns
// the process exit status: 0 after a clean stop, 3 when it could not start
// (bad arguments, or a running reader that cannot open the target at all).
// A memory fault in a strategy without PanicOnFault kills the process, as it
// would kill a service: that is what the harness observes.
func RunChild(ctx context.Context, args []string, reg *Registry, stdin io.Reader, stdout, stderr io.Writer) int {
	defer dumpEveryThreadOnQuit()()
	a, err := parseChildArgs(args, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "mapchaos reader: %v\n", err)
		return 3
	}
	strat, err := reg.Lookup(a.Strategy)
	if err != nil {
		fmt.Fprintf(stderr, "mapchaos reader: %v\n", err)
		return 3
	}
	orc, err := a.oracle()
	if err != nil {
		fmt.Fprintf(stderr, "mapchaos reader: %v\n", err)
		return 3
	}
	c := &child{args: a, reg: strat, oracle: orc, out: bufio.NewWriter(stdout), opened: make(chan struct{}), stopped: make(chan struct{})}
	if a.Ring != "" {
		if c.ring, err = CreateRing(a.Ring); err != nil {
			fmt.Fprintf(stderr, "mapchaos reader: %v\n", err)
			return 3
		}
		defer c.ring.Close()
	}
	go c.readCommands(stdin)
	go func() {
		select {
		case <-ctx.Done():
			c.stop()
		case <-c.stopped:
		}
	}()
	return c.run(stderr)
}

type child struct {
	args   ChildArgs
	reg    Registration
	oracle fixtures.Oracle
	ring   *Ring

	mu   sync.Mutex // guards out and sent
	out  *bufio.Writer
	sent map[string]int

	lookups, right, errs, wrong, faults, openErrs, opens atomic.Int64
	// opening is when the open or reload in progress began, 0 when none.
	opening atomic.Int64

	openOnce, stopOnce sync.Once
	opened, stopped    chan struct{}
}

func (c *child) stop() { c.stopOnce.Do(func() { close(c.stopped) }) }

func (c *child) isStopped() bool {
	select {
	case <-c.stopped:
		return true
	default:
		return false
	}
}

func (c *child) readCommands(stdin io.Reader) {
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		switch strings.TrimSpace(sc.Text()) {
		case "open":
			c.openOnce.Do(func() { close(c.opened) })
		case "stop":
			c.stop()
			return
		}
	}
	c.stop()
}

func (c *child) stats() *verdicts.Tally {
	return &verdicts.Tally{Lookups: c.lookups.Load(), Right: c.right.Load(), Errors: c.errs.Load(),
		Wrong: c.wrong.Load(), Faults: c.faults.Load(), OpenErrors: c.openErrs.Load(), Opens: c.opens.Load()}
}

// maxDetail bounds an event's detail: a decoding error on a torn file can
// quote megabytes of garbage.
const maxDetail = 4 << 10

// emit writes one event line and flushes it.
func (c *child) emit(e Event) {
	e.T = clock.Now()
	e.Detail = truncate(e.Detail, maxDetail)
	b, _ := json.Marshal(e)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.Write(b)
	c.out.WriteByte('\n')
	c.out.Flush()
}

// note emits a detailed event unless eventsPerKind of its kind went
// already; detail, when not nil, gives its Detail then (only then: on a
// torn file an error's text can be megabytes).
func (c *child) note(e Event, detail func() string) {
	c.mu.Lock()
	if c.sent == nil {
		c.sent = map[string]int{}
	}
	k := e.Ev + "/" + e.Op
	c.sent[k]++
	n := c.sent[k]
	c.mu.Unlock()
	if n <= eventsPerKind {
		if detail != nil {
			e.Detail = detail()
		}
		c.emit(e)
	}
}

// startTicker runs the ticker until the child stops; the returned channel
// closes once the ticker has ended.
func (c *child) startTicker() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.ticker()
	}()
	return done
}

func (c *child) ticker() {
	t := time.NewTicker(TickEvery)
	defer t.Stop()
	for {
		select {
		case <-c.stopped:
			return
		case <-t.C:
			c.emit(Event{Ev: "tick", Stats: c.stats(), Opening: c.opening.Load()})
		}
	}
}

// open opens the target, counting and reporting a failure.
func (c *child) open(op string) (DB, error) {
	c.opening.Store(clock.Now())
	db, err := c.reg.Strategy.Open(c.args.Target)
	c.opening.Store(0)
	var fe *FaultError
	switch {
	case errors.As(err, &fe):
		c.faults.Add(1)
		c.note(Event{Ev: "fault", Op: op, Addr: fmt.Sprintf("%#x", fe.Addr), Detail: fe.Value + "\n" + fe.Stack}, nil)
		return nil, err
	case err != nil:
		c.openErrs.Add(1)
		c.note(Event{Ev: "error", Op: op}, err.Error)
		return nil, err
	}
	c.opens.Add(1)
	return db, nil
}

func (c *child) run(stderr io.Writer) int {
	if c.reg.PanicOnFault {
		debug.SetPanicOnFault(true)
	}
	var db DB
	var ticking <-chan struct{}
	if c.args.Starting {
		c.emit(Event{Ev: "ready"})
		select {
		case <-c.opened:
		case <-c.stopped:
			c.emit(Event{Ev: "done", Stats: c.stats()})
			return 0
		}
		ticking = c.startTicker()
		// A starting reader retries until it has the target open, as a
		// pod in a restart loop would (without the restart delay).
		for db == nil && !c.isStopped() {
			var err error
			if db, err = c.open("open"); err != nil {
				time.Sleep(time.Millisecond)
			}
		}
	} else {
		var err error
		if db, err = c.reg.Strategy.Open(c.args.Target); err != nil {
			fmt.Fprintf(stderr, "mapchaos reader: running reader cannot open the target before any update: %v\n", err)
			return 3
		}
		c.opens.Add(1)
		c.emit(Event{Ev: "ready"})
		ticking = c.startTicker()
	}

	rng := rand.New(rand.NewPCG(c.args.Seed, 0x6d61706368616f73))
	lastReload := time.Now()
	for db != nil && !c.isStopped() {
		if c.args.Reload > 0 && time.Since(lastReload) >= c.args.Reload {
			lastReload = time.Now()
			if nd, err := c.open("reload"); err == nil {
				db.Close()
				db = nd
			}
		}
		ip := c.oracle.Sample(rng)
		rec := c.oracle.NewRecord()
		if c.ring != nil {
			c.ring.Note(ip, clock.Now())
		}
		c.lookups.Add(1)
		found, err := db.Lookup(ip, rec)
		if c.count(Judge(c.oracle, ip, rec, found, err)) {
			lastReload = time.Time{} // reopen before the next lookup
		}
	}
	if db != nil {
		db.Close()
	}
	// "done" carries the final counts: no tick may follow it.
	<-ticking
	c.emit(Event{Ev: "done", Stats: c.stats()})
	return 0
}

// count counts a lookup judged j, and notes the first few of each kind.
// It reports whether the target must be reopened before the next lookup:
// after a memory fault, or when the DB refuses lookups until then.
func (c *child) count(j Judged) bool {
	ip := j.IP.String()
	switch j.Answer {
	case verdicts.Faulted:
		var fe *FaultError
		errors.As(j.Err, &fe)
		c.faults.Add(1)
		c.note(Event{Ev: "fault", Op: "lookup", IP: ip, Addr: fmt.Sprintf("%#x", fe.Addr)}, func() string { return fe.Value + "\n" + fe.Stack })
		return true
	case verdicts.Failed:
		c.errs.Add(1)
		if errors.Is(j.Err, ErrNeedsReopen) {
			time.Sleep(time.Millisecond)
			return true
		}
		c.note(Event{Ev: "error", Op: "lookup", IP: ip}, j.Err.Error)
	case verdicts.Wrong:
		c.wrong.Add(1)
		c.note(Event{Ev: "wrong", IP: ip}, j.Detail)
	default:
		c.right.Add(1)
	}
	return false
}

// ParseEvent decodes one line of a child's stdout.
func ParseEvent(line []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(line, &e); err != nil {
		return e, fmt.Errorf("reader event %q: %w", truncate(string(line), 120), err)
	}
	if e.Ev == "" {
		return e, fmt.Errorf("reader event %q: no \"ev\" field", truncate(string(line), 120))
	}
	return e, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
