package step

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/internal/bounded"
	"github.com/mapchaos/mapchaos/internal/proctrack"
	"github.com/mapchaos/mapchaos/internal/waitstatus"
	"github.com/mapchaos/mapchaos/readers"
)

// Config is one update to step.
type Config struct {
	// Argv is the updater: any program and its arguments, run as is (no
	// shell). A built-in writer runs as `mapchaos writer NAME SRC TARGET SEQ`.
	Argv []string
	// Wrapper is the argv prefix of the trace wrapper (see Wrap), e.g.
	// {"/usr/local/bin/mapchaos", "trace-wrap"}. Run appends [-seccomp],
	// "--" and Argv.
	Wrapper []string
	// Target is the path readers use. Its directory (and, when it is a
	// symlink, the directory of the file it points to) is watched.
	Target string
	// ReaderTarget is the path the readers open when they see the target
	// through another mount than the updater's (an NFS client of their
	// own); "" is Target.
	ReaderTarget string
	// Old and New are pristine copies of the target's content before and
	// after the update; OldName and NewName label them in reports
	// (default "old" and "new").
	Old, New         string
	OldName, NewName string
	// Prepare lays out the initial state: the target holding Old, and
	// whatever the updater needs (a fresh copy of New to move ...). It is
	// called before the stepped run and before every kill run, and must
	// give the same state each time.
	Prepare func(ctx context.Context) error
	// Readers are probed at every step, in process: running ones opened
	// before the update, starting ones opening the target at the step.
	// Oracle draws the IPs they look up and judges their answers (a
	// fixtures.Universe, or fixtures.OpenPristine for a user's own pair);
	// without readers only the content of the target is probed.
	Readers []readers.Registration
	Oracle  fixtures.Oracle
	// Lookups per reader, role and distinct state (default 256); they stop
	// early, the same way on every run, once the outcome cannot get worse.
	Lookups int
	// Seed draws the looked-up IPs and the order of mutating calls that
	// several threads make at once.
	Seed int64
	// ProbeEveryWrite probes after every data write. By default the
	// harness probes after every other mutating call and after the 1st,
	// 2nd, 4th, 8th ... data write (and after the last one).
	ProbeEveryWrite bool
	// Clamp, when positive, shortens each copy_file_range, sendfile and
	// splice into the target to at most Clamp bytes (PTRACE_SET_SYSCALL_INFO,
	// Linux 6.16), so that a one-call copy shows its partial states. The
	// updater must loop on short copies, as cp does.
	Clamp int64
	// NoSeccomp stops at every system call instead of only the trapped
	// ones (slower; for kernels or sandboxes without seccomp).
	NoSeccomp bool
	// NoKills skips the kill points.
	NoKills bool
	// OnCall, when set, is called in the stepped run (never in a kill
	// run), in the harness's process while every task of the updater is
	// stopped: once with nil before the updater starts, after each
	// mutating call has returned, and at the entry of each barrier (fsync
	// ...) and hidden call. Package powerloss records the content of the
	// watched directories there (see OnCall in hook.go).
	OnCall func(c *Call)
	// MaxKills bounds the kill points (default 64): beyond it, the steps
	// that are not data writes are kept, and data writes at
	// exponentially spaced counts.
	MaxKills int
	// Check, when not nil, is called once the stepped run has ended,
	// before any kill run, while the target is as the updater
	// left it: exitOK says the updater exited 0, output is the start of
	// its output. An error (an updater that exited 0 without installing
	// the new version: writers.Prepared.Finish) fails the update, as a
	// non-zero exit does: Sequence.Failure holds it.
	Check func(exitOK bool, output string) error
	// Dir is the updater's working directory (default the target's
	// directory); Env its environment (default os.Environ()).
	Dir string
	Env []string
	// Timeout bounds each run of the updater, not counting the time the
	// harness spends probing while it is stopped (default 5 minutes).
	Timeout time.Duration
}

// readerTarget is the path the readers open.
func (c Config) readerTarget() string {
	if c.ReaderTarget != "" {
		return c.ReaderTarget
	}
	return c.Target
}

func (c Config) withDefaults() (Config, error) {
	var errs []string
	if len(c.Argv) == 0 || c.Argv[0] == "" {
		errs = append(errs, "no updater command")
	}
	if len(c.Wrapper) == 0 {
		errs = append(errs, "no trace wrapper (see step.Wrap)")
	}
	if c.Target == "" {
		errs = append(errs, "no target")
	}
	if c.Old == "" || c.New == "" {
		errs = append(errs, "no old or new version to compare the target with")
	}
	if c.Prepare == nil {
		errs = append(errs, "no Prepare: the initial state cannot be laid out again for the kill points")
	}
	if len(c.Readers) > 0 && c.Oracle == nil {
		errs = append(errs, "readers without an oracle to judge their answers")
	}
	for _, r := range c.Readers {
		if r.Strategy == nil {
			errs = append(errs, fmt.Sprintf("reader %s has no strategy to open the target with (a foreign reader's is a readers.ForeignStrategy)", r.Name))
		}
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("step config: %s", strings.Join(errs, "; "))
	}
	if c.OldName == "" {
		c.OldName = "old"
	}
	if c.NewName == "" {
		c.NewName = "new"
	}
	if c.Lookups <= 0 {
		c.Lookups = 256
	}
	if c.MaxKills <= 0 {
		c.MaxKills = 64
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Minute
	}
	abs, err := filepath.Abs(c.Target)
	if err != nil {
		return c, fmt.Errorf("step config: target: %w", err)
	}
	c.Target = abs
	if c.Dir == "" {
		c.Dir = filepath.Dir(abs)
	}
	if c.Env == nil {
		c.Env = os.Environ()
	}
	return c, nil
}

// Run steps one update: it runs cfg.Argv as a real child process under
// ptrace, stops it after every system call that changes the target or its
// directory, probes the target and the readers there, and then, for every
// step, runs the update again from the same initial state and kills it
// right after that step. Every state and kill point in the Sequence comes
// from a real stop of the real updater.
//
// An error means that stepping could not be done: ErrNotPermitted when
// ptrace is not allowed here (the caller may fall back to racing), a
// failed Prepare, or ctx's error. An updater that fails is not an error:
// see Sequence.Exit.
func Run(ctx context.Context, cfg Config) (*Sequence, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := Available(); err != nil {
		return nil, err
	}
	page := os.Getpagesize()
	r := &runner{cfg: cfg}
	if r.old, err = loadVersion(cfg.OldName, cfg.Old, page); err != nil {
		return nil, err
	}
	defer r.old.f.Close()
	if r.nw, err = loadVersion(cfg.NewName, cfg.New, page); err != nil {
		return nil, err
	}
	defer r.nw.f.Close()
	stp, err := r.stepped(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.NoKills || len(stp.points) == 0 {
		return r.seq, nil
	}
	if err := r.kills(ctx, stp); err != nil {
		return nil, err
	}
	return r.seq, nil
}

// runner is one Run.
type runner struct {
	cfg     Config
	old, nw *version
	dec     *decoder
	seq     *Sequence
	// before and after list the watched directories before the update
	// and after a complete one.
	before, after []string
}

// stepped makes the stepped run: the update, probed at every step.
func (r *runner) stepped(ctx context.Context) (*stepper, error) {
	cfg := r.cfg
	r.seq = &Sequence{Command: slices.Clone(cfg.Argv), Old: cfg.OldName, New: cfg.NewName, FirstUnsafe: -1}
	stp, res, err := r.steppedOnce(ctx)
	if errors.Is(err, errSeccompUnavailable) && !cfg.NoSeccomp {
		// A sandbox that forbids seccomp filters: stop at every call.
		r.cfg.NoSeccomp = true
		r.seq = &Sequence{Command: slices.Clone(cfg.Argv), Old: cfg.OldName, New: cfg.NewName, FirstUnsafe: -1,
			Warnings: []string{"seccomp filters are not allowed here: stopping at every system call (slower)"}}
		stp, res, err = r.steppedOnce(ctx)
	}
	if err != nil {
		return nil, err
	}
	s := r.seq
	s.Calls, s.Steps = stp.list(), stp.points
	s.Exit, s.ExitCode, s.Output, s.Stops = res.exit, res.code, res.output, res.stops
	s.Warnings = append(s.Warnings, res.warnings...)
	if cfg.Check != nil { // the stepped run has no kill point: it ran to its end
		if err := cfg.Check(res.armed && res.code == 0, res.output); err != nil {
			s.Failure = err.Error()
		}
	}
	if !res.armed {
		s.Warnings = append(s.Warnings, "the updater never started (the wrapper did not exec it)")
	}
	r.after = listDirs(r.dec.dirs)
	return stp, nil
}

// steppedOnce lays out the initial state, opens the running readers and
// steps the updater once.
func (r *runner) steppedOnce(ctx context.Context) (*stepper, traceResult, error) {
	cfg, s := r.cfg, r.seq
	if err := cfg.Prepare(ctx); err != nil {
		return nil, traceResult{}, fmt.Errorf("prepare the initial state: %w", err)
	}
	var err error
	if r.dec, err = newDecoder(cfg.Target); err != nil {
		return nil, traceResult{}, err
	}
	r.before = listDirs(r.dec.dirs)
	pr := newProber(cfg.readerTarget(), r.old, r.nw, cfg.Readers, cfg.Oracle, cfg.Lookups, cfg.Seed)
	if err := pr.open(); err != nil {
		return nil, traceResult{}, err
	}
	defer pr.close()
	add := func(c *Call, o observation) {
		st := State{Call: "before the update", Running: o.running, Starting: o.starting, Readers: o.readers}
		if c != nil {
			st.N, st.Call = c.N, c.String()
		}
		st.Unsafe = unsafeState(st)
		if n := len(s.States); n > 0 && sameState(s.States[n-1], st) {
			return
		}
		s.States = append(s.States, st)
		if st.Unsafe && s.FirstUnsafe < 0 {
			s.FirstUnsafe = len(s.States) - 1
		}
	}
	add(nil, pr.observe())
	stp := &stepper{everyWrite: cfg.ProbeEveryWrite, probe: func(c *Call) {
		s.Probes++
		add(c, pr.observe())
	}}
	began := time.Now()
	res, err := trace(ctx, cfg, r.dec, hooked(stp, cfg.OnCall))
	s.Duration = time.Since(began)
	return stp, res, err
}

// kills makes the kill runs: for each chosen step of stp, a fresh run from
// the same initial state, killed right after that step.
func (r *runner) kills(ctx context.Context, stp *stepper) error {
	cfg := r.cfg
	// Names that are in the directories before or after the update are
	// the same in every run; others (temporary files) may be random.
	stable := append(slices.Clone(r.before), r.after...)
	bare := newProber(cfg.readerTarget(), r.old, r.nw, nil, nil, 0, cfg.Seed)
	for _, k := range killPoints(stp, cfg.MaxKills) {
		want := r.seq.Calls[stp.points[k-1]-1]
		if err := cfg.Prepare(ctx); err != nil {
			return fmt.Errorf("prepare the initial state for the kill after #%d: %w", want.N, err)
		}
		ks := &stepper{everyWrite: cfg.ProbeEveryWrite, killAt: k}
		res, err := trace(ctx, cfg, r.dec, ks)
		if err != nil {
			return fmt.Errorf("kill after #%d: %w", want.N, err)
		}
		kill := Kill{After: want.N, Call: want.String(), Found: bare.startingView()}
		switch {
		case ks.killedAt == nil:
			kill.Note = fmt.Sprintf("the run ended (%s) after %d steps, before this one", res.exit, len(ks.points))
		case ks.killedAt.N != want.N || sameName(ks.killedAt.Text, stable) != sameName(want.Text, stable):
			kill.Note = fmt.Sprintf("this run diverged: its step %d was #%d %s", k, ks.killedAt.N, ks.killedAt.Text)
		case !res.killed:
			kill.Note = "the updater had exited by itself: this is the state it left"
		}
		for _, e := range listDirs(r.dec.dirs) {
			if !slices.Contains(r.before, e) && !slices.Contains(r.after, e) {
				kill.LeftBehind = append(kill.LeftBehind, e)
			}
		}
		r.seq.Kills = append(r.seq.Kills, kill)
	}
	return nil
}

// unsafeState: a starting reader finds no whole version, or the old
// mapping faults or changed. It does not depend on the reader strategies
// (their verdicts are kept per state).
func unsafeState(s State) bool {
	return !s.Starting.Found.Whole() || !s.Running.Intact()
}

// sameState: nothing a reader can see differs.
func sameState(a, b State) bool {
	return a.Running.key == b.Running.key && a.Starting.key == b.Starting.key &&
		a.Running.Text == b.Running.Text && a.Starting.Text == b.Starting.Text
}

// quoted matches the quoted file names of a call's text.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// sameName returns text with every quoted name that is not in stable
// replaced by "*": two runs of an updater that names its temporary files
// at random make the same calls under this mapping.
func sameName(text string, stable []string) string {
	return quoted.ReplaceAllStringFunc(text, func(q string) string {
		name, err := strconv.Unquote(q)
		if err != nil || slices.Contains(stable, name) || slices.Contains(stable, filepath.Base(name)) {
			return q
		}
		return `"*"`
	})
}

// listDirs lists the entries of the watched directories, as paths
// relative to the first one.
func listDirs(dirs []string) []string {
	var out []string
	for i, d := range dirs {
		for _, n := range listDir(d) {
			if i > 0 {
				if rel, err := filepath.Rel(dirs[0], filepath.Join(d, n)); err == nil {
					n = rel
				}
			}
			out = append(out, n)
		}
	}
	return out
}

// killPoints chooses the steps (1-based) to kill at: all of them, or,
// beyond max, those that are not data writes and data writes at
// exponentially spaced counts, and the last step.
func killPoints(s *stepper, max int) []int {
	n := len(s.points)
	var ks []int
	for k := 1; k <= n; k++ {
		if n <= max || !s.pointData[k-1] || isPow2(s.pointWrites[k-1]) || k == n {
			ks = append(ks, k)
		}
	}
	return ks
}

func isPow2(n int) bool { return n > 0 && bits.OnesCount(uint(n)) == 1 }

// stepper numbers the watched calls, decides where to probe, and asks for
// the kill at its kill point. Its schedule depends on the calls alone, so
// a kill run counts its steps exactly as the stepped run did.
type stepper struct {
	everyWrite  bool
	killAt      int         // the step to kill at, 0 for none
	probe       func(*Call) // nil in kill runs
	calls       []*Call     // every watched call, numbered
	writes      int         // successful data writes so far
	unprobed    *Call       // the last data write, when not probed yet
	points      []int       // the call number of each step
	pointData   []bool      // whether each step is a data write
	pointWrites []int       // the data write count at each step
	killedAt    *Call
	done        bool
}

func (s *stepper) number(c *Call) {
	s.calls = append(s.calls, c)
	c.N = len(s.calls)
}

func (s *stepper) before(c *Call) bool {
	if s.done || c.Data || s.unprobed == nil {
		return false
	}
	// The state after the last unprobed write, before this call changes it.
	return s.step(s.unprobed)
}

func (s *stepper) after(c *Call) bool {
	if s.done {
		return false
	}
	s.number(c)
	if (c.Failed() || c.Data && c.Ret == 0) && !c.Died {
		return false // changed nothing
	}
	if c.Data && !c.Died {
		s.writes++
		if !s.everyWrite && !isPow2(s.writes) {
			s.unprobed = c
			return false
		}
	}
	return s.step(c)
}

func (s *stepper) note(c *Call) {
	if !s.done {
		s.number(c)
	}
}

func (s *stepper) finish() {
	if !s.done && s.unprobed != nil {
		s.step(s.unprobed)
	}
	s.done = true
}

// step is a probe point after call c.
func (s *stepper) step(c *Call) bool {
	s.unprobed = nil
	s.points = append(s.points, c.N)
	s.pointData = append(s.pointData, c.Data)
	s.pointWrites = append(s.pointWrites, s.writes)
	if s.probe != nil {
		s.probe(c)
	}
	if len(s.points) == s.killAt {
		s.killedAt, s.done = c, true
		return true
	}
	return false
}

// list returns the numbered calls.
func (s *stepper) list() []Call {
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		out[i] = *c
	}
	return out
}

// traceResult is how one traced run of the updater ended.
type traceResult struct {
	exit     string
	code     int
	output   string
	stops    int
	warnings []string
	armed    bool // the updater was exec'd
	killed   bool // the harness killed it (a kill point)
}

// errSeccompUnavailable: the wrapper could not install its filter.
var errSeccompUnavailable = errors.New("seccomp filter not allowed")

// trace runs the updater once under ptrace, with obs told about its
// calls. All ptrace requests are made from one locked OS thread; when the
// run ends every tracee is gone.
func trace(ctx context.Context, cfg Config, dec *decoder, obs observer) (traceResult, error) {
	type done struct {
		res traceResult
		err error
	}
	ch := make(chan done, 1)
	go func() {
		runtime.LockOSThread()
		res, clean, err := traceLocked(ctx, cfg, dec, obs)
		if clean {
			// Otherwise the thread ends with the goroutine, and with it
			// (PTRACE_O_EXITKILL, Pdeathsig) whatever it still traces.
			runtime.UnlockOSThread()
		}
		ch <- done{res, err}
	}()
	d := <-ch
	return d.res, d.err
}

// maxOutput bounds the updater's output kept in a Sequence.
const maxOutput = 8 << 10

func traceLocked(ctx context.Context, cfg Config, dec *decoder, obs observer) (res traceResult, clean bool, err error) {
	// The deadline moves on by the time spent in probes (the observer's
	// calls): the updater does not run meanwhile.
	obs = &timedObserver{observer: obs}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopDog := watchdog(cfg.Timeout, obs.(*timedObserver), func() { cancel(errTimeout) })
	defer stopDog()
	// Every process of the updater is traced and killed when it exits;
	// the tracker also catches one that got away from the tracer.
	track := proctrack.New()
	defer track.Close()
	proc, out, copied, err := startWrapper(cfg, track)
	if err != nil {
		return res, true, err
	}
	defer proc.Release()
	pid := proc.Pid
	live := &liveSet{tids: map[int]bool{pid: true}, pgid: pid}
	stopWatch := killOnDone(ctx, live)
	finish := func() {
		stopWatch()
		select {
		case <-copied:
		case <-time.After(2 * time.Second): // a grandchild that escaped holds the pipe
		}
		res.output = out.Kept()
	}
	// The wrapper stops itself; then it can be seized.
	if ws, err := waitStop(pid); err != nil || !ws.Stopped() {
		finish()
		return res, true, wrapperEnded(ctx, cfg, ws, err, res.output)
	}
	t := &tracer{root: pid, seccomp: !cfg.NoSeccomp, dec: dec, obs: obs, clamp: cfg.Clamp,
		rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6f72646572)), tasks: map[int]*task{}, live: live}
	if err := t.attach(pid); err != nil {
		t.reapAll()
		unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil)
		finish()
		return res, true, seizeFailure(err)
	}
	runErr := t.run()
	t.reapAll()
	for _, p := range track.Kill() {
		t.warn("%s, started by the updater, escaped the tracer and outlived it: killed", p)
	}
	finish()
	res.stops, res.warnings, res.armed, res.killed = t.stops, t.warnings, t.armed, t.killed
	res.exit, res.code = waitstatus.Describe(syscall.WaitStatus(t.rootWS)), exitCode(t.rootWS)
	if t.killed {
		res.exit = "killed by the harness"
	}
	if ctx.Err() != nil {
		return res, true, ctxErr(ctx, cfg)
	}
	if runErr != nil {
		return res, true, fmt.Errorf("trace %s: %w", cfg.Argv[0], runErr)
	}
	return res, true, nil
}

// startWrapper starts the trace wrapper of cfg.Argv, tracked, in a process
// group of its own, with its output copied to out until copied is closed.
func startWrapper(cfg Config, track *proctrack.Tracker) (proc *os.Process, out *bounded.Buffer, copied chan struct{}, err error) {
	argv := slices.Clone(cfg.Wrapper)
	if !cfg.NoSeccomp {
		argv = append(argv, WrapSeccompFlag)
	}
	argv = append(append(argv, "--"), cfg.Argv...)
	rd, wr, err := os.Pipe()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("output pipe: %w", err)
	}
	out = bounded.New(maxOutput, 0)
	copied = make(chan struct{})
	go func() { defer close(copied); io.Copy(out, rd); rd.Close() }()
	null, err := os.Open(os.DevNull)
	if err != nil {
		wr.Close()
		<-copied
		return nil, nil, nil, err
	}
	sys := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	proc, err = os.StartProcess(argv[0], argv, &os.ProcAttr{Dir: cfg.Dir, Env: track.Attr(sys, cfg.Env),
		Files: []*os.File{null, wr, wr}, Sys: sys})
	null.Close()
	wr.Close()
	if err != nil {
		<-copied
		return nil, nil, nil, fmt.Errorf("start the trace wrapper %s: %w", argv[0], err)
	}
	return proc, out, copied, nil
}

// killOnDone kills every tracee of live when ctx ends, until the returned
// function is called.
func killOnDone(ctx context.Context, live *liveSet) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			live.killAll()
		case <-done:
		}
	}()
	return func() { close(done); wg.Wait() }
}

// waitStop waits until the trace wrapper pid stops itself, or ends.
func waitStop(pid int) (unix.WaitStatus, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, unix.WUNTRACED, nil)
		if !errors.Is(err, unix.EINTR) {
			return ws, err
		}
	}
}

// wrapperEnded says why the trace wrapper ended (ws, or err) instead of
// stopping itself, from its output.
func wrapperEnded(ctx context.Context, cfg Config, ws unix.WaitStatus, err error, output string) error {
	switch {
	case err != nil:
		return fmt.Errorf("wait for the trace wrapper: %w", err)
	case ctx.Err() != nil:
		return ctxErr(ctx, cfg)
	case ws.Exited() && ws.ExitStatus() == 126 && strings.Contains(output, "seccomp"):
		return fmt.Errorf("%w: %s", errSeccompUnavailable, strings.TrimSpace(output))
	}
	return fmt.Errorf("the trace wrapper ended (%s) before it stopped itself: %s", waitstatus.Describe(syscall.WaitStatus(ws)), strings.TrimSpace(output))
}

// errTimeout is the cause of a run cancelled by its watchdog.
var errTimeout = fmt.Errorf("updater timed out: %w", context.DeadlineExceeded)

func ctxErr(ctx context.Context, cfg Config) error {
	if errors.Is(context.Cause(ctx), errTimeout) {
		return fmt.Errorf("the updater %s did not finish within %s: killed: %w", cfg.Argv[0], cfg.Timeout, context.DeadlineExceeded)
	}
	return ctx.Err()
}

// timedObserver adds up the time its observer takes (the probes).
type timedObserver struct {
	observer
	spent atomic.Int64 // ns
}

func (o *timedObserver) time(f func() bool) bool {
	began := time.Now()
	defer func() { o.spent.Add(int64(time.Since(began))) }()
	return f()
}

func (o *timedObserver) before(c *Call) bool {
	return o.time(func() bool { return o.observer.before(c) })
}
func (o *timedObserver) after(c *Call) bool {
	return o.time(func() bool { return o.observer.after(c) })
}
func (o *timedObserver) finish() { o.time(func() bool { o.observer.finish(); return false }) }

// watchdog calls expire once limit has passed outside obs's calls. The
// returned function stops it.
func watchdog(limit time.Duration, obs *timedObserver, expire func()) (stop func()) {
	done := make(chan struct{})
	began := time.Now()
	go func() {
		for {
			left := limit - (time.Since(began) - time.Duration(obs.spent.Load()))
			if left <= 0 {
				expire()
				return
			}
			select {
			case <-done:
				return
			case <-time.After(left):
			}
		}
	}()
	return func() { close(done) }
}

func exitCode(ws unix.WaitStatus) int {
	if ws.Exited() {
		return ws.ExitStatus()
	}
	return -1
}
