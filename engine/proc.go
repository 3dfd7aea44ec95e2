package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/mapchaos/mapchaos/internal/clock"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/results"
	"github.com/mapchaos/mapchaos/verdicts"
)

// proc is one reader process and what it has said so far: a reader child
// (`mapchaos reader`, which streams its events) or a foreign reader (driven
// over the line protocol by drive).
type proc struct {
	id       string
	role     results.Role
	stderr   string // path of the stderr file
	ring     string // path of the ring file
	ready    chan struct{}
	done     chan struct{} // closed once the process has been reaped
	openedAt int64         // when "open" was sent (starting readers), 0 before
	opening  int64         // when the open or reload it is inside began (its last tick), 0 when none
	stuckWhy string        // why the monitor judged it stuck
	stopWhy  string        // how long it was given to stop, and why, when it did not
	readyAt  int64         // when "ready" arrived

	// A reader child: its command and stdin.
	cmd   *exec.Cmd
	stdin io.WriteCloser
	// A foreign reader: its process, and quit, which asks drive to end it.
	fp       *readers.ForeignProcess
	left     func(string) // hears the processes a foreign reader left running
	quit     chan struct{}
	quitOnce sync.Once

	mu       sync.Mutex
	events   []readers.Event // notable events (not ticks)
	last     verdicts.Tally  // latest counters (tick or done)
	finished bool            // "done" received, or a foreign reader asked to quit
	progress int64           // sum of counters at the last change
	movedAt  int64           // when progress last changed
	badLines []string        // lines that were not events
	state    *os.ProcessState
	exitAt   int64
	stuck    bool     // the harness judged it stuck and killed it
	killed   bool     // the harness killed it at the end (did not stop in time)
	garbled  bool     // a foreign reader broke the protocol after a proper start
	lastIPs  []string // a foreign reader's last lookups (a child's are in its ring)
	lastAt   int64
}

func newProc(id string, role results.Role, stderrPath, ringPath string) *proc {
	return &proc{id: id, role: role, stderr: stderrPath, ring: ringPath,
		ready: make(chan struct{}), done: make(chan struct{}), quit: make(chan struct{}), movedAt: clock.Now()}
}

// startChild starts argv as a reader child whose stderr goes to
// stderrPath, and reads its events until it ends.
func startChild(id string, role results.Role, argv []string, stderrPath, ringPath string, env []string) (*proc, error) {
	errf, err := os.Create(stderrPath)
	if err != nil {
		return nil, fmt.Errorf("reader %s: %w", id, err)
	}
	defer errf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = errf
	cmd.Env = env
	// Own process group (so the whole group can be killed) and a
	// parent-death signal (so nothing outlives a harness that is killed).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("reader %s: stdin: %w", id, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("reader %s: stdout: %w", id, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("reader %s: start %s: %w", id, argv[0], err)
	}
	p := newProc(id, role, stderrPath, ringPath)
	p.cmd, p.stdin = cmd, stdin
	go p.watch(stdout)
	return p, nil
}

// watch reads the child's events until end of file, then reaps it.
func (p *proc) watch(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	readyOnce := sync.Once{}
	for sc.Scan() {
		e, err := readers.ParseEvent(sc.Bytes())
		p.mu.Lock()
		switch {
		case err != nil:
			if len(p.badLines) < 4 {
				p.badLines = append(p.badLines, err.Error())
			}
		case e.Ev == "ready":
			readyOnce.Do(func() { p.readyAt = clock.Now(); close(p.ready) })
		case e.Ev == "tick" && p.finished:
			// A tick the child's ticker computed before "done" but wrote
			// after it: "done" holds the final counts.
		case e.Ev == "tick" || e.Ev == "done":
			if e.Stats != nil {
				p.counted(*e.Stats)
			}
			p.opening = e.Opening
			p.finished = p.finished || e.Ev == "done"
		default:
			p.events = append(p.events, e)
		}
		p.mu.Unlock()
	}
	if err := sc.Err(); err != nil {
		p.mu.Lock()
		p.badLines = append(p.badLines, "reading the reader's output: "+err.Error())
		p.mu.Unlock()
	}
	io.Copy(io.Discard, stdout)
	_ = p.cmd.Wait()
	p.ended(p.cmd.ProcessState)
}

// counted records the reader's latest counters; p.mu is held.
func (p *proc) counted(t verdicts.Tally) {
	p.last = t
	if sum := t.Lookups + t.OpenErrors + t.Opens; sum != p.progress {
		p.progress, p.movedAt = sum, clock.Now()
	}
}

// ended records how the process ended and that it has been reaped.
func (p *proc) ended(state *os.ProcessState) {
	p.mu.Lock()
	p.state = state
	p.exitAt = clock.Now()
	p.mu.Unlock()
	close(p.done)
}

// send writes one command line to the child; a dead child is not an error.
func (p *proc) send(line string) {
	if p.stdin != nil {
		_, _ = io.WriteString(p.stdin, line+"\n")
	}
}

// signal sends sig to the reader's process group.
func (p *proc) signal(sig syscall.Signal) {
	switch {
	case p.fp != nil:
		p.fp.Signal(sig)
	case p.cmd != nil && p.cmd.Process != nil:
		_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

// alive reports whether the reader has not been reaped yet.
func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// notReadyError: a reader did not say ready in time.
type notReadyError struct {
	id      string
	timeout time.Duration
}

func (e *notReadyError) Error() string {
	return fmt.Sprintf("reader %s did not say ready within %s", e.id, e.timeout)
}

// waitReady waits for "ready", the reader's death, or the timeout.
func (p *proc) waitReady(ctx context.Context, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.ready:
		return nil
	case <-p.done:
		select {
		case <-p.ready: // it was ready, then ended: not a start-up failure
			return nil
		default:
		}
		return fmt.Errorf("reader %s exited before it was ready (%s); stderr: %s", p.id, p.state, tail(p.stderr, 800))
	case <-t.C:
		return &notReadyError{id: p.id, timeout: timeout}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop asks the reader to finish, then kills it if it has not exited
// within grace. It always returns with the reader reaped.
func (p *proc) stop(grace, openAllowance time.Duration, allowanceText string) {
	if p.fp != nil {
		p.quitOnce.Do(func() { close(p.quit) })
	} else {
		p.send("stop")
		_ = p.stdin.Close()
	}
	why := fmt.Sprintf("within %s of being asked", grace)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return
	case <-t.C:
	}
	// A reader inside an open stops once the open returns: reading a
	// large file whole may take the open allowance.
	p.mu.Lock()
	opening := p.opening
	p.mu.Unlock()
	if end := opening + int64(grace+openAllowance); opening != 0 && end > clock.Now() {
		why += fmt.Sprintf(", nor within %s of the start of the open it was in (%s plus %s)",
			(grace + openAllowance).Round(time.Millisecond), grace, allowanceText)
		t.Reset(time.Duration(end - clock.Now()))
		select {
		case <-p.done:
			return
		case <-t.C:
		}
	}
	p.mu.Lock()
	p.killed, p.stopWhy = true, why
	p.mu.Unlock()
	if p.fp == nil { // a reader child answers SIGQUIT with where it is: evidence
		p.signal(syscall.SIGQUIT)
		select {
		case <-p.done:
			return
		case <-time.After(time.Second):
		}
	}
	p.signal(syscall.SIGKILL)
	<-p.done
}

// kill kills the reader at once and reaps it.
func (p *proc) kill() {
	p.signal(syscall.SIGKILL)
	if p.stdin != nil {
		_ = p.stdin.Close()
	}
	<-p.done
}

// snapshot returns a copy of what the reader has said.
func (p *proc) snapshot() (verdicts.Tally, []readers.Event, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last, append([]readers.Event(nil), p.events...), p.finished
}

// tail returns up to n bytes from the end of the file at path.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-n, 0)
	b := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	return string(b)
}

// head returns up to n bytes from the start of the file at path.
func head(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b := make([]byte, n)
	k, _ := io.ReadFull(f, b)
	return string(b[:k])
}
