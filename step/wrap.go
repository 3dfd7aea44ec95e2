package step

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// WrapSeccompFlag asks Wrap to install the seccomp filter that traps only
// the interesting system calls.
const WrapSeccompFlag = "-seccomp"

// Wrap is the trace wrapper program: `WRAPPER [-seccomp] -- PROG ARGS...`.
// It stops itself with SIGSTOP so that the harness can attach with
// PTRACE_SEIZE (Go's own SysProcAttr.Ptrace uses PTRACE_TRACEME, which
// does not allow PTRACE_INTERRUPT), checks that it is traced, and execs
// PROG. With -seccomp it first installs a filter that makes only the
// system calls the harness cares about stop (this sets no_new_privs: a
// setuid updater does not gain privileges under it). It returns only on
// failure, with the exit status to use: 2 for bad usage, 126 when not
// traced or the filter cannot be installed, 127 when PROG cannot be run.
//
// A program using Wrap must call it before doing anything else, e.g. as a
// hidden subcommand (`mapchaos trace-wrap`), or from TestMain in tests.
func Wrap(args []string, stderr io.Writer) int {
	useSeccomp := false
	for len(args) > 0 && args[0] != "--" {
		switch args[0] {
		case WrapSeccompFlag:
			useSeccomp = true
		default:
			fmt.Fprintf(stderr, "trace-wrap: unknown flag %q: want [%s] -- PROG ARGS...\n", args[0], WrapSeccompFlag)
			return 2
		}
		args = args[1:]
	}
	if len(args) < 2 {
		fmt.Fprintf(stderr, "trace-wrap: want [%s] -- PROG ARGS...\n", WrapSeccompFlag)
		return 2
	}
	argv := args[1:]
	path, err := exec.LookPath(argv[0])
	if err != nil {
		fmt.Fprintf(stderr, "trace-wrap: %v\n", err)
		return 127
	}
	// The filter, the stop and the exec happen on one thread: the filter
	// is per thread, and the exec passes it on.
	runtime.LockOSThread()
	if useSeccomp {
		if !supported {
			fmt.Fprintf(stderr, "trace-wrap: no seccomp filter for %s\n", runtime.GOARCH)
			return 126
		}
		if err := installFilter(filterProgram(trappedNumbers())); err != nil {
			fmt.Fprintf(stderr, "trace-wrap: %v\n", err)
			return 126
		}
	}
	// Thread-directed: this very thread takes the stop before it returns
	// from tgkill. (A process-directed SIGSTOP may be taken by another
	// thread while this one goes on into a trapped call, which fails with
	// ENOSYS while no tracer is attached.)
	if err := unix.Tgkill(os.Getpid(), unix.Gettid(), unix.SIGSTOP); err != nil {
		fmt.Fprintf(stderr, "trace-wrap: stop myself: %v\n", err)
		return 126
	}
	// Without a tracer, every trapped call would fail with ENOSYS.
	if pid, err := tracerPid(); err != nil || pid == 0 {
		fmt.Fprintf(stderr, "trace-wrap: resumed without a tracer (%v): not running %s\n", err, argv[0])
		return 126
	}
	err = unix.Exec(path, argv, os.Environ())
	fmt.Fprintf(stderr, "trace-wrap: exec %s: %v\n", path, err)
	return 127
}

// tracerPid reads TracerPid from /proc/self/status.
func tracerPid() (int, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "TracerPid:"); ok {
			var pid int
			_, err := fmt.Sscan(strings.TrimSpace(v), &pid)
			return pid, err
		}
	}
	return 0, errors.New("no TracerPid in /proc/self/status")
}
