package step

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/mapchaos/mapchaos/internal/proctrack"
)

// observer is told about the watched system calls of the tracees. before
// and after run while every tracee is stopped; either may ask for every
// tracee to be killed at once.
type observer interface {
	// before is called when the mutating call c is about to run.
	before(c *Call) (kill bool)
	// after is called when c has returned (or its task died in it).
	after(c *Call) (kill bool)
	// note records a call that changes nothing readers see (a barrier
	// such as fsync) or that the harness cannot step (a warning).
	note(c *Call)
	// finish is called once every tracee is gone.
	finish()
}

// action is how a stopped task is to be restarted.
type action struct{ req, sig int }

// task is one traced thread.
type task struct {
	tid int
	// n numbers the tasks in the order the tracer met them: a stable
	// name where tids are not.
	n           int
	stopped     bool   // in a ptrace stop the tracer has not ended yet
	act         action // how to restart it
	call        *Call  // at the entry of a watched mutating call, or running it
	interrupted bool   // PTRACE_INTERRUPT sent and no stop seen since
	vforking    bool   // waiting for a vfork child: it cannot stop
}

// tracer drives one tree of traced processes. Every method must run on
// one locked OS thread: ptrace requests are accepted only from the thread
// that attached.
type tracer struct {
	root    int
	seccomp bool
	dec     *decoder
	obs     observer
	rng     *rand.Rand
	clamp   int64

	tasks    map[int]*task
	nextN    int
	armed    bool  // the root has exec'd the updater: its calls count
	inflight *task // the one task let into a watched mutating call
	frozen   bool  // stops are held instead of being restarted
	kill     bool  // the observer asked to kill every tracee
	killed   bool  // every tracee was sent SIGKILL
	rootWS   unix.WaitStatus
	rootDone bool

	live *liveSet

	stops    int
	foreign  bool // a system call of a foreign ABI was seen
	warnings []string
}

// liveSet holds the tids of the tracees, for a goroutine that must kill
// them on cancellation.
type liveSet struct {
	mu   sync.Mutex
	tids map[int]bool
	pgid int
}

func (l *liveSet) add(tid int)    { l.mu.Lock(); l.tids[tid] = true; l.mu.Unlock() }
func (l *liveSet) remove(tid int) { l.mu.Lock(); delete(l.tids, tid); l.mu.Unlock() }

// killAll sends SIGKILL to every tracee and to the process group of the
// root. Safe from any goroutine.
func (l *liveSet) killAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pgid > 0 {
		_ = unix.Kill(-l.pgid, unix.SIGKILL)
	}
	for tid := range l.tids {
		_ = unix.Kill(tid, unix.SIGKILL)
	}
}

func (t *tracer) defaultReq() int {
	if t.seccomp {
		return unix.PTRACE_CONT
	}
	return unix.PTRACE_SYSCALL
}

func (t *tracer) add(tid int) *task {
	if tk, ok := t.tasks[tid]; ok {
		return tk
	}
	tk := &task{tid: tid, n: t.nextN, act: action{req: t.defaultReq()}}
	t.nextN++
	t.tasks[tid] = tk
	t.live.add(tid)
	return tk
}

func (t *tracer) warn(format string, a ...any) {
	w := fmt.Sprintf(format, a...)
	if !slices.Contains(t.warnings, w) {
		t.warnings = append(t.warnings, w)
	}
}

// attach seizes every thread of the stopped process pid and wakes it.
func (t *tracer) attach(pid int) error {
	opts := traceOptions | unix.PTRACE_O_TRACEVFORKDONE
	if t.seccomp {
		opts |= unix.PTRACE_O_TRACESECCOMP
	}
	tids, err := threadsOf(pid)
	if err != nil {
		return fmt.Errorf("list the threads of %d: %w", pid, err)
	}
	slices.Sort(tids)
	// The root first, so that it is task 0.
	tids = append([]int{pid}, slices.DeleteFunc(tids, func(x int) bool { return x == pid })...)
	for _, tid := range tids {
		if err := seize(tid, opts); err != nil {
			if errors.Is(err, unix.ESRCH) {
				continue
			}
			return &seizeError{err: err}
		}
		t.add(tid)
	}
	return unix.Kill(pid, unix.SIGCONT)
}

// seizeError is a failed PTRACE_SEIZE.
type seizeError struct{ err error }

func (e *seizeError) Error() string { return "PTRACE_SEIZE: " + e.err.Error() }
func (e *seizeError) Unwrap() error { return e.err }

// run drives the tracees until every one of them is gone.
func (t *tracer) run() error {
	defer t.obs.finish()
	for {
		if t.kill && !t.killed {
			t.killed = true
			t.live.killAll()
		}
		if t.inflight == nil && !t.killed {
			if w := t.waiting(); len(w) > 0 {
				if err := t.freeze(); err != nil {
					return err
				}
				if w = t.waiting(); len(w) == 0 {
					continue // the waiting task went away while freezing (killed: an interrupt)
				}
				pick := t.choose(w)
				if t.obs.before(pick.call) {
					t.kill = true
					continue
				}
				t.letThrough(pick)
				continue
			}
			if t.frozen {
				t.thaw()
			}
		}
		if len(t.tasks) == 0 {
			return nil
		}
		if t.rootDone && !t.killed && t.inflight == nil {
			if err := t.drain(); err != nil {
				return err
			}
			if len(t.tasks) > 0 {
				t.warn("%d processes or threads of the updater were still alive when it exited: killed", len(t.tasks))
				for _, tid := range slices.Sorted(maps.Keys(t.tasks)) {
					if p, ok := proctrack.Lookup(tid); ok {
						t.warn("%s, started by the updater, still running after it exited: killed", p)
					}
				}
				t.kill = true
			}
			continue
		}
		if err := t.waitOne(); err != nil {
			return err
		}
	}
}

// waitOne waits for one event of any tracee and handles it.
func (t *tracer) waitOne() error {
	var ws unix.WaitStatus
	tid, err := unix.Wait4(-1, &ws, unix.WALL, nil)
	switch {
	case errors.Is(err, unix.EINTR):
		return nil
	case errors.Is(err, unix.ECHILD):
		// Nothing left to wait for: tasks we still list are gone.
		for tid := range t.tasks {
			t.gone(tid)
		}
		t.rootDone = true
		return nil
	case err != nil:
		return fmt.Errorf("wait4: %w", err)
	}
	t.handle(tid, ws)
	return nil
}

// drain handles the events already pending, without blocking.
func (t *tracer) drain() error {
	for len(t.tasks) > 0 {
		var ws unix.WaitStatus
		tid, err := unix.Wait4(-1, &ws, unix.WALL|unix.WNOHANG, nil)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ECHILD):
			for tid := range t.tasks {
				t.gone(tid)
			}
			return nil
		case err != nil:
			return fmt.Errorf("wait4: %w", err)
		case tid == 0:
			return nil
		}
		t.handle(tid, ws)
	}
	return nil
}

// waiting lists the tasks stopped at the entry of a watched mutating call.
func (t *tracer) waiting() []*task {
	var w []*task
	for _, tk := range t.tasks {
		if tk.call != nil && tk.stopped && tk != t.inflight {
			w = append(w, tk)
		}
	}
	slices.SortFunc(w, func(a, b *task) int { return a.n - b.n })
	return w
}

// choose picks the next task to let into its call: the only one, or one
// drawn by the seed among several (tasks in order of creation).
func (t *tracer) choose(w []*task) *task {
	if len(w) == 1 {
		return w[0]
	}
	return w[t.rng.IntN(len(w))]
}

// freeze stops every task (PTRACE_INTERRUPT) so that the next mutating
// call and the probes after it race nothing.
func (t *tracer) freeze() error {
	if t.frozen {
		return nil
	}
	t.frozen = true
	for _, tk := range t.tasks {
		if !tk.stopped && !tk.vforking && !tk.interrupted {
			if err := ptrace(unix.PTRACE_INTERRUPT, tk.tid, 0, 0); err == nil {
				tk.interrupted = true
			}
		}
	}
	for t.anyRunning() {
		if err := t.waitOne(); err != nil {
			return err
		}
	}
	return nil
}

// anyRunning reports whether a task that can stop is not stopped yet.
func (t *tracer) anyRunning() bool {
	for _, tk := range t.tasks {
		if !tk.stopped && !tk.vforking {
			return true
		}
	}
	return false
}

// thaw restarts every held task but those waiting to enter a mutating call.
func (t *tracer) thaw() {
	t.frozen = false
	for _, tk := range t.sorted() {
		if tk.stopped && tk.call == nil {
			t.restart(tk)
		}
	}
}

func (t *tracer) sorted() []*task {
	all := make([]*task, 0, len(t.tasks))
	for _, tk := range t.tasks {
		all = append(all, tk)
	}
	slices.SortFunc(all, func(a, b *task) int { return a.n - b.n })
	return all
}

func (t *tracer) restart(tk *task) {
	tk.stopped = false
	if err := resume(tk.tid, tk.act.req, tk.act.sig); err != nil && !errors.Is(err, unix.ESRCH) {
		t.warn("restart task %d: %v", tk.n, err)
	}
	tk.act = action{req: t.defaultReq()}
}

// letThrough lets tk into its mutating call and stops it again at the
// call's exit; every other task stays stopped meanwhile.
func (t *tracer) letThrough(tk *task) {
	t.inflight = tk
	tk.act = action{req: unix.PTRACE_SYSCALL, sig: 0}
	t.restart(tk)
}

// gone forgets a task that exited or was killed.
func (t *tracer) gone(tid int) {
	tk := t.tasks[tid]
	if tk == nil {
		return
	}
	delete(t.tasks, tid)
	t.live.remove(tid)
	if tk == t.inflight {
		t.inflight = nil
		c := tk.call
		c.Died = true
		if t.obs.after(c) {
			t.kill = true
		}
	}
}

// handle accounts for one wait status of tid.
func (t *tracer) handle(tid int, ws unix.WaitStatus) {
	if ws.Exited() || ws.Signaled() {
		t.gone(tid)
		if tid == t.root {
			t.rootDone, t.rootWS = true, ws
		}
		return
	}
	if !ws.Stopped() {
		return
	}
	t.stops++
	tk := t.add(tid) // a new task's first stop can come before its parent's event
	tk.stopped, tk.interrupted = true, false
	tk.act = action{req: t.defaultReq()}
	if tk == t.inflight {
		tk.act.req = unix.PTRACE_SYSCALL // keep watching for the call's exit
	}
	sig := ws.StopSignal()
	ev := int(uint32(ws)>>16) & 0xff // x/sys TrapCause is -1 for group-stops
	switch {
	case sig == unix.SIGTRAP|0x80:
		t.syscallStop(tk)
	case ev == unix.PTRACE_EVENT_SECCOMP:
		t.entry(tk)
	case ev == unix.PTRACE_EVENT_CLONE || ev == unix.PTRACE_EVENT_FORK || ev == unix.PTRACE_EVENT_VFORK:
		if child, err := eventMsg(tid); err == nil { // ESRCH when exit_group races the clone
			t.add(child)
		}
		tk.vforking = ev == unix.PTRACE_EVENT_VFORK
	case ev == unix.PTRACE_EVENT_VFORK_DONE:
		tk.vforking = false
	case ev == unix.PTRACE_EVENT_EXEC:
		// An exec from a thread other than the leader takes the leader's
		// tid: the thread that was former is this task now.
		if former, err := eventMsg(tid); err == nil && former != tid {
			if ft := t.tasks[former]; ft != nil {
				tk.n = ft.n
				delete(t.tasks, former)
				t.live.remove(former)
			}
		}
		if tid == t.root {
			t.armed = true
		}
	case ev == unix.PTRACE_EVENT_STOP:
		// A group-stop, an interrupt, or a new task's first stop: go on.
		// (Group-stops are not kept: a stepped updater is not job-controlled.)
	case ev != 0:
		// Another event: nothing to do.
	default:
		tk.act.sig = int(sig) // signal-delivery-stop: deliver it
	}
	if tk == t.inflight && tk.call != nil {
		t.restart(tk) // a stop inside the let-through call: go on to its exit
		return
	}
	if tk.call == nil && !t.frozen {
		t.restart(tk)
	}
}

// syscallStop handles a syscall-entry or -exit stop.
func (t *tracer) syscallStop(tk *task) {
	si, err := getSyscallInfo(tk.tid)
	if err != nil {
		return
	}
	switch si.Op {
	case unix.PTRACE_SYSCALL_INFO_ENTRY:
		t.entry(tk)
	case unix.PTRACE_SYSCALL_INFO_EXIT:
		if tk != t.inflight || tk.call == nil {
			return
		}
		c := tk.call
		tk.call, t.inflight = nil, nil
		c.Ret = si.rval()
		if si.isError() {
			c.Errno = unix.Errno(-c.Ret)
		}
		tk.act = action{req: t.defaultReq()}
		if restarted(c.Ret) {
			// Interrupted by a signal (Go's preemption SIGURG, say) before
			// it did anything: the kernel runs it again after the handler,
			// and that run is the call. Counting both would make the
			// sequence depend on when signals land.
			return
		}
		if t.obs.after(c) {
			t.kill = true
		}
	}
}

// entry handles the entry of a trapped system call (a seccomp stop, or a
// syscall-entry stop without seccomp).
func (t *tracer) entry(tk *task) {
	if !t.armed {
		return
	}
	si, err := getSyscallInfo(tk.tid)
	if err != nil {
		return
	}
	if si.Arch != auditArch {
		if !t.foreign {
			t.foreign = true
			t.warn("the updater makes system calls of a foreign ABI (arch %#x): they are not decoded, and changes they make are not stepped", si.Arch)
		}
		return
	}
	c := t.dec.decode(tk.tid, si)
	if c == nil {
		return
	}
	c.Task = tk.n
	switch c.Class {
	case Hidden:
		t.warn("%s: changes made that way are invisible to system-call stepping", c.Text)
		t.obs.note(c)
	case Mutating:
		if t.clamp > 0 && c.lenArg >= 0 && int64(si.arg(c.lenArg)) > t.clamp {
			t.clampCall(tk, si, c)
		}
		tk.call = c
	default:
		t.obs.note(c)
	}
}

// clampCall shortens the length argument of a copy (copy_file_range,
// sendfile, splice) so that a whole-file copy takes several calls, each a
// state of its own (PTRACE_SET_SYSCALL_INFO, Linux 6.16).
func (t *tracer) clampCall(tk *task, si syscallInfo, c *Call) {
	was := int64(si.arg(c.lenArg))
	si.Data[1+c.lenArg] = uint64(t.clamp)
	if err := setSyscallInfo(tk.tid, si); err != nil {
		t.warn("cannot clamp %s (PTRACE_SET_SYSCALL_INFO needs Linux 6.16): %v", c.Name, err)
		t.clamp = 0
		return
	}
	c.Bytes = t.clamp
	c.Text = strings.Replace(c.Text, fmt.Sprintf(", %d bytes)", was), fmt.Sprintf(", %d bytes, clamped from %d)", t.clamp, was), 1)
}

// reapAll kills what is left and waits for every task to be gone. Used on
// every path out, so that no stopped process is left behind.
func (t *tracer) reapAll() {
	if len(t.tasks) == 0 {
		return
	}
	t.live.killAll()
	for len(t.tasks) > 0 {
		var ws unix.WaitStatus
		tid, err := unix.Wait4(-1, &ws, unix.WALL, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			break
		}
		if ws.Exited() || ws.Signaled() {
			delete(t.tasks, tid)
			t.live.remove(tid)
		}
	}
	t.tasks = map[int]*task{}
}

// restarted reports whether ret is one of the kernel's internal restart
// codes (ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND, ERESTART_RESTARTBLOCK):
// a tracer sees them at the exit of a call a signal interrupted, which
// user space never does, because the call is made again.
func restarted(ret int64) bool {
	switch ret {
	case -512, -513, -514, -516:
		return true
	}
	return false
}
