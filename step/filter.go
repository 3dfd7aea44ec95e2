package step

import (
	"fmt"
	"slices"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Offsets in struct seccomp_data: the low 32 bits of argument i are at
// seccompDataArgs+8*i (amd64 and arm64 are little-endian).
const (
	seccompDataNr   = 0
	seccompDataArch = 4
	seccompDataArgs = 16
)

// argTests narrow the stops of two calls that the Go runtime and every
// program make by the dozen at start-up, to the forms the decoder keeps
// (a superset of them): an mmap that is shared, writable and of a file
// (PROT_WRITE, MAP_SHARED, fd >= 0), and an openat that can write
// (O_WRONLY, O_RDWR, O_CREAT or O_TRUNC). Each test is: the argument, and
// the bits of which one must be set (or, with clear, all must be clear).
var argTests = map[uint64][]argTest{
	unix.SYS_MMAP:   {{arg: 2, bits: unix.PROT_WRITE}, {arg: 3, bits: unix.MAP_SHARED}, {arg: 4, bits: 1 << 31, clear: true}},
	unix.SYS_OPENAT: {{arg: 2, bits: unix.O_WRONLY | unix.O_RDWR | unix.O_CREAT | unix.O_TRUNC}},
}

type argTest struct {
	arg   int
	bits  uint32
	clear bool
}

// filterProgram builds the seccomp filter the wrapper installs before it
// execs the updater: SECCOMP_RET_TRACE (a stop for the harness) for the
// native system calls in nrs (those of argTests only in the forms that
// pass their tests) and for every system call of a foreign ABI (which the
// harness does not decode, and says so); SECCOMP_RET_ALLOW for everything
// else.
func filterProgram(nrs []uint64) []unix.SockFilter {
	nrs = slices.Clone(nrs)
	slices.Sort(nrs)
	var p bpfProgram
	p.stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, seccompDataArch)
	p.jump(unix.BPF_JEQ, auditArch, "", "trace") // foreign ABI: trace
	p.stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, seccompDataNr)
	for _, nr := range nrs {
		to := "trace"
		if argTests[nr] != nil {
			to = fmt.Sprintf("args%d", nr)
		}
		p.jump(unix.BPF_JEQ, uint32(nr), to, "")
	}
	p.jump(unix.BPF_JA, 0, "allow", "allow")
	for _, nr := range nrs {
		if argTests[nr] == nil {
			continue
		}
		p.label(fmt.Sprintf("args%d", nr))
		for _, t := range argTests[nr] {
			p.stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, uint32(seccompDataArgs+8*t.arg))
			if t.clear {
				p.jump(unix.BPF_JSET, t.bits, "allow", "")
			} else {
				p.jump(unix.BPF_JSET, t.bits, "", "allow")
			}
		}
		p.jump(unix.BPF_JA, 0, "trace", "trace")
	}
	p.label("allow")
	p.stmt(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_ALLOW)
	p.label("trace")
	p.stmt(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_TRACE)
	return p.resolve()
}

// bpfProgram assembles a classic BPF program with forward jumps to labels
// ("" is the next instruction).
type bpfProgram struct {
	ins    []unix.SockFilter
	jumps  map[int][2]string
	labels map[string]int
}

func (p *bpfProgram) stmt(code uint16, k uint32) {
	p.ins = append(p.ins, unix.SockFilter{Code: code, K: k})
}

func (p *bpfProgram) jump(op uint16, k uint32, jt, jf string) {
	if p.jumps == nil {
		p.jumps = map[int][2]string{}
	}
	p.jumps[len(p.ins)] = [2]string{jt, jf}
	p.ins = append(p.ins, unix.SockFilter{Code: unix.BPF_JMP | op | unix.BPF_K, K: k})
}

func (p *bpfProgram) label(name string) {
	if p.labels == nil {
		p.labels = map[string]int{}
	}
	p.labels[name] = len(p.ins)
}

// resolve fills in the jump offsets. It panics on a backward jump or an
// unknown label: both are bugs in the program above.
func (p *bpfProgram) resolve() []unix.SockFilter {
	off := func(from int, to string) uint32 {
		if to == "" {
			return 0
		}
		at, ok := p.labels[to]
		if !ok || at <= from {
			panic(fmt.Sprintf("bpf: bad jump from %d to %q", from, to))
		}
		return uint32(at - from - 1)
	}
	for i, j := range p.jumps {
		if p.ins[i].Code&0xf0 == unix.BPF_JA {
			p.ins[i].K = off(i, j[0]) // an unconditional jump's offset is K
			continue
		}
		p.ins[i].Jt, p.ins[i].Jf = uint8(off(i, j[0])), uint8(off(i, j[1]))
	}
	return p.ins
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
