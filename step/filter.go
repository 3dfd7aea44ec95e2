package step

import (
	"fmt"
	"slices"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Offsets in struct seccomp_data.
const (
	seccompDataNr   = 0
	seccompDataArch = 4
)

// filterProgram builds the seccomp filter the wrapper installs before it
// execs the updater: SECCOMP_RET_TRACE (a stop for the harness) for the
// native system calls in nrs and for every system call of a foreign ABI
// (which the harness does not decode, and says so); SECCOMP_RET_ALLOW for
// everything else.
func filterProgram(nrs []uint64) []unix.SockFilter {
	nrs = slices.Clone(nrs)
	slices.Sort(nrs)
	k := len(nrs)
	stmt := func(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
	jump := func(k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: k, Jt: jt, Jf: jf}
	}
	prog := []unix.SockFilter{
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, seccompDataArch),
		jump(auditArch, 0, uint8(k+2)), // foreign ABI: trace
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, seccompDataNr),
	}
	for i, nr := range nrs {
		prog = append(prog, jump(uint32(nr), uint8(k-i), 0))
	}
	return append(prog,
		stmt(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_ALLOW),
		stmt(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_TRACE))
}

// installFilter sets no_new_privs and installs prog on the calling thread
// only (no TSYNC): the thread that execs passes it on to the new program.
func installFilter(prog []unix.SockFilter) error {
	if len(prog) > 255 {
		return fmt.Errorf("seccomp filter of %d instructions is too long for 8-bit jumps", len(prog))
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog)))
	if e != 0 {
		return fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER): %w", e)
	}
	return nil
}

// trappedNumbers lists the native numbers of the trapped system calls.
func trappedNumbers() []uint64 {
	var nrs []uint64
	for nr := range syscallNames() {
		nrs = append(nrs, nr)
	}
	return nrs
}
