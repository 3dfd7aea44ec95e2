package step

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrNotPermitted means that this machine does not let the harness trace
// a child process: kernel.yama.ptrace_scope is 3, or PTRACE_SEIZE failed
// with EPERM (a container's seccomp profile, a missing CAP_SYS_PTRACE
// under ptrace_scope 2, an LSM). Callers fall back to racing by timing and
// say so.
var ErrNotPermitted = errors.New("ptrace is not permitted here")

// ErrUnsupported means that stepping does not know this architecture's
// system calls (only amd64 and arm64 are known).
var ErrUnsupported = errors.New("stepping is not supported on this architecture")

// yamaScopeFile holds the Yama ptrace scope (absent without Yama).
const yamaScopeFile = "/proc/sys/kernel/yama/ptrace_scope"

// Available reports whether stepping can work here: ErrUnsupported or
// ErrNotPermitted (wrapped, saying why) when it cannot. A nil error does
// not promise that PTRACE_SEIZE will succeed; Run reports ErrNotPermitted
// then too.
func Available() error {
	if !supported {
		return fmt.Errorf("%w (%s)", ErrUnsupported, runtime.GOARCH)
	}
	return checkYama(yamaScopeFile)
}

// checkYama reads the Yama ptrace scope from path: 3 forbids every
// attach. A missing file means Yama is not there.
func checkYama(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return nil // unreadable: let PTRACE_SEIZE decide
	}
	if strings.TrimSpace(string(b)) == "3" {
		return fmt.Errorf("%w: kernel.yama.ptrace_scope is 3 (%s): no process may trace another", ErrNotPermitted, path)
	}
	return nil
}

// seizeFailure turns a failed attach into ErrNotPermitted when the kernel
// refused it (EPERM, EACCES, or ENOSYS from a seccomp profile that
// removes ptrace), and wraps any other error as it is.
func seizeFailure(err error) error {
	var se *seizeError
	if errors.As(err, &se) {
		if errors.Is(se.err, unix.EPERM) || errors.Is(se.err, unix.EACCES) || errors.Is(se.err, unix.ENOSYS) {
			return fmt.Errorf("%w: %w", ErrNotPermitted, err)
		}
	}
	return fmt.Errorf("attach to the updater: %w", err)
}
