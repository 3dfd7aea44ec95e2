package vm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// QemuBinary is the arm64 emulator (Debian package qemu-system-arm).
const QemuBinary = "qemu-system-aarch64"

// FindQemu returns the path of qemu-system-aarch64 (Arm64.FindQemu).
func FindQemu() (string, error) { return Arm64.FindQemu() }

// Machine is one boot of a virtual machine of Arch (zero: Arm64): a
// kernel, an initramfs whose /init is the guest program, and optional raw
// disks.
type Machine struct {
	Arch Arch
	// Qemu is the emulator's path (see Arch.FindQemu).
	Qemu string
	// Kernel is the kernel image; Initrd the gzipped cpio.
	Kernel, Initrd string
	// Disk is a raw disk image attached as a writable virtio disk with the
	// serial DiskSerial; "" for none. RootDisk is attached read-only with
	// the serial RootSerial (the guest's Debian userland); "" for none.
	Disk, RootDisk string
	// MemMiB is the guest's memory (default 1536); CPUs its processors
	// (default 2); CPU the model (default cortex-a72: "max" is about 4x
	// slower, for pointer authentication).
	MemMiB, CPUs int
	CPU          string
	// Timeout bounds the whole boot; then qemu is killed. Required.
	Timeout time.Duration
	// Pass receives the console lines that are not protocol events (the
	// payload's output, kernel messages), as they come.
	Pass func(line string)
	// Console, if set, receives the raw console.
	Console io.Writer
	// TailLines is how many console lines an error keeps (default 40).
	TailLines int
	// Append is added to the kernel command line.
	Append string
}

// Args returns qemu's arguments. The kernel runs with kpti=0: page table
// isolation, which this kernel forces on only to hide KASLR, costs a TLB
// flush per kernel entry, and under TCG that makes the guest about three
// times slower. Recent arm64 server cores (E0PD) run without it too; it
// changes nothing a reader sees of a fault.
func (m Machine) Args() []string {
	a := m.Arch.orArm64()
	mem, cpus, cpu := m.MemMiB, m.CPUs, m.CPU
	if mem == 0 {
		mem = 1536
	}
	if cpus == 0 {
		cpus = 2
	}
	if cpu == "" {
		cpu = a.CPU
	}
	args := append(append([]string{}, a.Machine...), "-cpu", cpu, "-smp", strconv.Itoa(cpus), "-m", strconv.Itoa(mem),
		"-nodefaults", "-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot",
		"-kernel", m.Kernel, "-initrd", m.Initrd,
		"-append", strings.Join(strings.Fields("console="+a.Console+" panic=-1 quiet "+a.Append+" "+m.Append), " "))
	if m.Disk != "" {
		args = append(args, "-drive", "file="+m.Disk+",if=none,id=d0,format=raw",
			"-device", a.BlockDevice+",drive=d0,serial="+DiskSerial)
	}
	if m.RootDisk != "" {
		args = append(args, "-drive", "file="+m.RootDisk+",if=none,id=d1,format=raw,readonly=on",
			"-device", a.BlockDevice+",drive=d1,serial="+RootSerial)
	}
	return args
}

// Outcome is what one boot gave.
type Outcome struct {
	Transcript Transcript
	// Boot is the time from starting qemu to the guest init's first
	// words; Elapsed the time until qemu exited.
	Boot, Elapsed time.Duration
	// Tail is the end of the console.
	Tail []string
}

// ErrTimeout is wrapped by the error of a boot that ran out of time.
var ErrTimeout = errors.New("the guest did not finish in time")

// GuestError is a boot that gave no complete result: qemu failed, the
// guest hung (ErrTimeout), panicked, or its init failed. Tail is the end of
// the console.
type GuestError struct {
	Reason string
	Tail   []string
	Err    error
}

func (e *GuestError) Error() string {
	msg := e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if len(e.Tail) > 0 {
		msg += "\n--- last console lines ---\n" + strings.Join(e.Tail, "\n")
	}
	return msg
}

func (e *GuestError) Unwrap() error { return e.Err }

// Run boots the machine and waits, at most Timeout and never past ctx,
// for qemu to exit. qemu runs in its own process group, which is killed
// on timeout and on cancellation, and it gets SIGKILL should this process
// die. A boot that does not end with the guest's "done" is a *GuestError.
func (m Machine) Run(ctx context.Context) (Outcome, error) {
	var out Outcome
	if m.Timeout <= 0 {
		return out, errors.New("vm: Machine.Timeout is required")
	}
	if m.Qemu == "" {
		return out, errors.New("vm: Machine.Qemu is required")
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, m.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, m.Qemu, m.Args()...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	tail := newTail(m.TailLines)
	start := time.Now()
	var bootOnce sync.Once
	parser := &ConsoleParser{Pass: func(line string) {
		if strings.TrimSpace(line) == "" {
			return // the protocol's own line breaks
		}
		tail.add(line)
		if m.Pass != nil {
			m.Pass(line)
		}
	}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var r io.Reader = pr
		if m.Console != nil {
			r = io.TeeReader(pr, m.Console)
		}
		_ = eachLine(r, func(line string) {
			if strings.Contains(line, Marker) {
				bootOnce.Do(func() { out.Boot = time.Since(start) })
				if !strings.Contains(line, `"ev":"data"`) {
					tail.add(strings.TrimRight(line, "\r"))
				}
			}
			parser.Line(line)
		})
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Start()
	if err != nil {
		pw.Close()
		<-done
		return out, &GuestError{Reason: "cannot start " + m.Qemu, Err: err}
	}
	err = cmd.Wait()
	// Whatever happened, the group goes: nothing of this boot outlives it.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	pw.Close()
	<-done
	out.Elapsed = time.Since(start)
	out.Transcript = parser.Transcript()
	out.Tail = tail.lines()
	t := out.Transcript
	switch {
	case parent.Err() != nil:
		return out, &GuestError{Reason: "stopped qemu", Tail: out.Tail, Err: parent.Err()}
	case ctx.Err() != nil:
		return out, &GuestError{Reason: fmt.Sprintf("killed qemu after %s", m.Timeout.Round(time.Second)),
			Tail: out.Tail, Err: fmt.Errorf("%w (%s)", ErrTimeout, progress(t))}
	case t.Failure != "":
		return out, &GuestError{Reason: "the guest init failed: " + t.Failure, Tail: out.Tail}
	case len(t.Errors) > 0:
		return out, &GuestError{Reason: "the guest's results came back damaged: " + strings.Join(t.Errors, "; "), Tail: out.Tail}
	case !t.Done && err != nil:
		return out, &GuestError{Reason: "qemu failed (" + progress(t) + ")", Tail: out.Tail, Err: err}
	case !t.Done:
		return out, &GuestError{Reason: "the guest stopped without finishing (a kernel panic, or init died; " + progress(t) + ")", Tail: out.Tail}
	}
	return out, nil
}

// progress says how far the guest got.
func progress(t Transcript) string {
	if len(t.Steps) == 0 {
		if len(t.Info) == 0 {
			return "the guest init never spoke"
		}
		return "no step had begun"
	}
	s := t.Steps[len(t.Steps)-1]
	if s.Ended {
		return fmt.Sprintf("after step %q ended", s.Name)
	}
	return fmt.Sprintf("during step %q", s.Name)
}

// tail keeps the last lines of the console.
type tail struct {
	mu  sync.Mutex
	n   int
	buf []string
}

func newTail(n int) *tail {
	if n <= 0 {
		n = 40
	}
	return &tail{n: n}
}

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, line)
	if len(t.buf) > 2*t.n {
		t.buf = append([]string(nil), t.buf[len(t.buf)-t.n:]...)
	}
}

func (t *tail) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) > t.n {
		return append([]string(nil), t.buf[len(t.buf)-t.n:]...)
	}
	return append([]string(nil), t.buf...)
}
