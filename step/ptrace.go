package step

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// traceOptions are the ptrace options of every tracee: auto-attach to new
// threads and processes, report execs, kill the tracees if the tracer
// dies, and mark syscall stops (SIGTRAP|0x80).
const traceOptions = unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_TRACECLONE | unix.PTRACE_O_TRACEFORK |
	unix.PTRACE_O_TRACEVFORK | unix.PTRACE_O_TRACEEXEC | unix.PTRACE_O_EXITKILL

// syscallInfo is struct ptrace_syscall_info (PTRACE_GET_SYSCALL_INFO,
// Linux 5.3). It reads the same on every architecture: no registers.
type syscallInfo struct {
	Op    uint8
	_     uint8
	Flags uint16 // reserved (Linux 6.16: PTRACE_SET_SYSCALL_INFO wants 0)
	Arch  uint32
	IP    uint64
	SP    uint64
	// Data is the union: entry and seccomp {nr, args[6], (ret_data)};
	// exit {rval, is_error}.
	Data [8]uint64
}

func (s *syscallInfo) nr() uint64       { return s.Data[0] }
func (s *syscallInfo) arg(i int) uint64 { return s.Data[1+i] }
func (s *syscallInfo) rval() int64      { return int64(s.Data[0]) }
func (s *syscallInfo) isError() bool    { return s.Data[1]&0xff != 0 }

func ptrace(req, tid int, addr, data uintptr) error {
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, uintptr(req), uintptr(tid), addr, data, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// seize attaches to tid with PTRACE_SEIZE and sets opts.
func seize(tid int, opts int) error {
	return ptrace(unix.PTRACE_SEIZE, tid, 0, uintptr(opts))
}

// getSyscallInfo decodes the system call tid is stopped in.
func getSyscallInfo(tid int) (syscallInfo, error) {
	var si syscallInfo
	err := ptrace(unix.PTRACE_GET_SYSCALL_INFO, tid, unsafe.Sizeof(si), uintptr(unsafe.Pointer(&si)))
	return si, err
}

// setSyscallInfo changes the system call tid is stopped in
// (PTRACE_SET_SYSCALL_INFO, Linux 6.16).
func setSyscallInfo(tid int, si syscallInfo) error {
	return ptrace(unix.PTRACE_SET_SYSCALL_INFO, tid, unsafe.Sizeof(si), uintptr(unsafe.Pointer(&si)))
}

// resume restarts a stopped tracee with req (PTRACE_CONT or
// PTRACE_SYSCALL), delivering sig (0 for none).
func resume(tid, req, sig int) error {
	return ptrace(req, tid, 0, uintptr(sig))
}

// eventMsg returns PTRACE_GETEVENTMSG for tid.
func eventMsg(tid int) (int, error) {
	m, err := unix.PtraceGetEventMsg(tid)
	return int(m), err
}

// readString reads a NUL-terminated string of at most max bytes at addr in
// the memory of tid, a page at a time so that it never reads past the end
// of a mapping.
func readString(tid int, addr uint64, max int) (string, error) {
	if addr == 0 {
		return "", errors.New("NULL")
	}
	page := uint64(os.Getpagesize())
	var out []byte
	buf := make([]byte, page)
	for len(out) < max {
		n := int(page - addr%page)
		n = min(n, max-len(out))
		local := []unix.Iovec{{Base: &buf[0]}}
		local[0].SetLen(n)
		remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: n}}
		got, err := unix.ProcessVMReadv(tid, local, remote, 0)
		if err != nil {
			return "", fmt.Errorf("read string at %#x of task %d: %w", addr, tid, err)
		}
		if i := bytes.IndexByte(buf[:got], 0); i >= 0 {
			return string(append(out, buf[:i]...)), nil
		}
		out = append(out, buf[:got]...)
		addr += uint64(got)
		if got < n {
			return "", fmt.Errorf("read string at %#x of task %d: short read", addr, tid)
		}
	}
	return string(out), nil
}

// fdPath returns what fd of task tid refers to: a path for a file (with
// " (deleted)" cut off, and deleted reported), or a pseudo name such as
// "pipe:[1234]".
func fdPath(tid, fd int) (path string, deleted bool, err error) {
	p, err := os.Readlink("/proc/" + strconv.Itoa(tid) + "/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "", false, err
	}
	if s, ok := strings.CutSuffix(p, " (deleted)"); ok {
		return s, true, nil
	}
	return p, false, nil
}

// cwdOf returns the working directory of task tid.
func cwdOf(tid int) (string, error) {
	return os.Readlink("/proc/" + strconv.Itoa(tid) + "/cwd")
}

// threadsOf lists the thread ids of process pid.
func threadsOf(pid int) ([]int, error) {
	ents, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
	if err != nil {
		return nil, err
	}
	var tids []int
	for _, e := range ents {
		if t, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, t)
		}
	}
	return tids, nil
}
