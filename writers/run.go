package writers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mapchaos/mapchaos/internal/bounded"
	"github.com/mapchaos/mapchaos/internal/proctrack"
	"github.com/mapchaos/mapchaos/internal/waitstatus"
)

// ran is the end of one run of a command.
type ran struct {
	ok        bool // exit status 0
	status    string
	timedOut  bool
	elapsed   time.Duration
	out       *bounded.Buffer
	err       error
	leftovers []string // the processes it left running, killed
}

// run starts p's command in its own process group, tracked, and waits for
// it, the timeout or ctx. Whatever happens, it kills every process the
// command started and reaps the command before it returns.
func (e Exec) run(ctx context.Context, p *Prepared) ran {
	limit := e.OutputLimit
	if limit <= 0 {
		limit = DefaultOutputLimit
	}
	timeout := e.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	r := ran{out: bounded.Split(limit)}
	cmd := exec.Command(p.Argv[0], p.Argv[1:]...)
	cmd.Dir, cmd.Env = p.Dir, p.Env
	// One writer for both streams: os/exec then uses one pipe, so the
	// output keeps its order.
	var out io.Writer = r.out
	if e.Output != nil {
		out = io.MultiWriter(r.out, e.Output)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// A process that escaped the group (setsid) may hold the output pipe
	// open until it is killed; stop reading it this long after.
	cmd.WaitDelay = 2 * time.Second
	track := proctrack.New()
	defer track.Close()
	track.Cmd(cmd)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		r.status, r.err = "could not start", err
		return r
	}
	pid := cmd.Process.Pid
	r.timedOut = wait(ctx, pid, timeout)
	r.elapsed = time.Since(start)
	// The command is a zombie now: its pid, which is the group's id,
	// cannot be reused yet, so this reaches only what it left running.
	for _, left := range track.Kill(pid) {
		r.leftovers = append(r.leftovers, left.String()+", started by the updater, "+fate(ctx, r.timedOut))
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	werr := cmd.Wait()
	var xe *exec.ExitError
	switch {
	case r.timedOut:
		r.status = fmt.Sprintf("timed out after %s (--writer-timeout): killed its process group", timeout)
	case ctx.Err() != nil:
		r.status, r.err = "stopped: the race was cancelled", ctx.Err()
	case werr == nil, errors.Is(werr, exec.ErrWaitDelay):
		r.ok, r.status = true, "exit status 0"
	case errors.As(werr, &xe):
		r.status = waitstatus.Long(waitstatus.Of(xe.ProcessState))
	default:
		r.status, r.err = "wait failed", werr
	}
	return r
}

// fate says what became of a process the command left: it was running
// when the command exited, or when the harness stopped the command.
func fate(ctx context.Context, timedOut bool) string {
	if timedOut || ctx.Err() != nil {
		return "still running when the updater was stopped: killed"
	}
	return "still running after it exited: killed"
}

// wait waits until the process pid has exited, without reaping it, or
// until the timeout or ctx, when it kills pid's process group and waits
// for pid. It reports whether the timeout expired.
func wait(ctx context.Context, pid int, timeout time.Duration) (timedOut bool) {
	exited := make(chan struct{})
	go func() { defer close(exited); waitExited(pid) }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-exited:
	case <-timer.C:
		timedOut = true
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-exited
	case <-ctx.Done():
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-exited
	}
	return timedOut
}

// waitExited blocks until the process pid has exited, without reaping it.
func waitExited(pid int) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return
		}
	}
}
