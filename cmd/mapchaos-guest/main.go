package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mapchaos/mapchaos/vm"
)

func main() {
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "mapchaos-guest: this is the init program of the arm64 guest that `mapchaos matrix --arch arm64` boots; it runs only as PID 1")
		os.Exit(2)
	}
	rep := vm.NewReporter(os.Stdout)
	if err := run(rep); err != nil {
		_ = rep.Fail(err.Error())
	} else {
		_ = rep.Done()
	}
	powerOff()
}

// run does the plan: mounts, modules, disk, steps.
func run(rep *vm.Reporter) error {
	if err := mountBase(); err != nil {
		return err
	}
	if err := installBusybox(); err != nil {
		return err
	}
	reportInfo(rep)
	plan, err := vm.ReadPlan(vm.GuestPlan)
	if err != nil {
		return err
	}
	if err := mountTmpfs(vm.GuestTmpfs, plan.TmpfsMiB); err != nil {
		return err
	}
	for _, m := range plan.Modules {
		if err := loadModule(filepath.Join(vm.GuestModules, m)); err != nil {
			return err
		}
	}
	if plan.Disk {
		if err := mountDisk(); err != nil {
			return err
		}
		defer unmountDisk()
	}
	root := ""
	if plan.Root {
		if err := mountRoot(); err != nil {
			return err
		}
		defer unmountRoot()
		root = vm.GuestRoot
		_ = rep.Info("userland", "debian")
	}
	if plan.Parallel {
		return runParallel(rep, plan.Steps, root)
	}
	for _, s := range plan.Steps {
		timedOut, err := runStep(rep, s, root, nil)
		if err != nil {
			return err
		}
		if timedOut && plan.StopOnTimeout {
			fmt.Printf("step %s ran out of time: the steps after it are not started\n", s.Name)
			return nil
		}
	}
	return nil
}

// runParallel runs every step at the same time, each line of its output
// prefixed with its name; what the steps left running is killed once all
// have ended.
func runParallel(rep *vm.Reporter, steps []vm.Step, root string) error {
	errs := make([]error, len(steps))
	var wg sync.WaitGroup
	for i, s := range steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := rep.Lines("[" + s.Name + "] ")
			_, errs[i] = runStep(rep, s, root, out)
			_ = out.Close()
		}()
	}
	wg.Wait()
	endStep()
	return errors.Join(errs...)
}

// endStep kills the orphans steps left behind (readers of a killed
// harness), so that they do not run on into the next step, and reaps them.
func endStep() {
	_ = unix.Kill(-1, unix.SIGKILL)
	reapAll(2 * time.Second)
}

// mountBase mounts what every program expects: /proc, /sys, /dev (with
// /dev/shm and /dev/pts), /tmp, /run.
func mountBase() error {
	mounts := []struct{ src, dir, fstype, data string }{
		{"proc", "/proc", "proc", ""},
		{"sysfs", "/sys", "sysfs", ""},
		{"devtmpfs", "/dev", "devtmpfs", ""},
		{"tmpfs", "/tmp", "tmpfs", "mode=1777"},
		{"tmpfs", "/run", "tmpfs", "mode=0755"},
	}
	for _, m := range mounts {
		if err := os.MkdirAll(m.dir, 0o755); err != nil {
			return fmt.Errorf("mkdir %s: %w", m.dir, err)
		}
		if err := unix.Mount(m.src, m.dir, m.fstype, 0, m.data); err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mount %s on %s: %w", m.fstype, m.dir, err)
		}
	}
	if err := os.MkdirAll("/dev/shm", 0o1777); err != nil {
		return fmt.Errorf("mkdir /dev/shm: %w", err)
	}
	if err := unix.Mount("tmpfs", "/dev/shm", "tmpfs", 0, "mode=1777"); err != nil {
		return fmt.Errorf("mount /dev/shm: %w", err)
	}
	// Pseudo-terminals (/dev/ptmx and its slaves), for programs and specs
	// that talk to a terminal.
	if err := os.MkdirAll("/dev/pts", 0o755); err != nil {
		return fmt.Errorf("mkdir /dev/pts: %w", err)
	}
	if err := unix.Mount("devpts", "/dev/pts", "devpts", 0, "mode=0620,ptmxmode=0666"); err != nil {
		return fmt.Errorf("mount devpts on /dev/pts: %w", err)
	}
	return nil
}

// installBusybox links busybox's applets into /bin, so that steps find sh.
func installBusybox() error {
	if _, err := os.Stat(vm.GuestBusybox); err != nil {
		return nil // an initramfs without busybox: no shell
	}
	if out, err := exec.Command(vm.GuestBusybox, "--install", "-s", "/bin").CombinedOutput(); err != nil {
		return fmt.Errorf("busybox --install: %w: %s", err, out)
	}
	return nil
}

func mountTmpfs(dir string, mib int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mkdir %s: %w", dir, err)
	}
	data := "mode=0755"
	if mib > 0 {
		data += ",size=" + strconv.Itoa(mib) + "m"
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, data); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	return nil
}

func reportInfo(rep *vm.Reporter) {
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		_ = rep.Info("kernel", unix.ByteSliceToString(u.Release[:]))
		_ = rep.Info("machine", unix.ByteSliceToString(u.Machine[:]))
	}
	_ = rep.Info("page_size", strconv.Itoa(os.Getpagesize()))
	_ = rep.Info("goarch", runtime.GOARCH)
	_ = rep.Info("cpus", strconv.Itoa(runtime.NumCPU()))
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		_ = rep.Info("mem_mib", strconv.FormatUint(uint64(si.Totalram)*uint64(si.Unit)>>20, 10))
	}
}

// loadModule loads a kernel module with finit_module(2); one that is
// already there (built in, or loaded) is fine.
func loadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("module: %w", err)
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), "", 0); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("load module %s: %w", filepath.Base(path), err)
	}
	return nil
}

// mountDisk waits for the work disk to appear and mounts it as ext4.
func mountDisk() error {
	dev, err := diskBySerial(vm.DiskSerial, 15*time.Second)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(vm.GuestDisk, 0o755); err != nil {
		return fmt.Errorf("mkdir %s: %w", vm.GuestDisk, err)
	}
	if err := unix.Mount(dev, vm.GuestDisk, "ext4", 0, ""); err != nil {
		return fmt.Errorf("mount %s (ext4) on %s: %w", dev, vm.GuestDisk, err)
	}
	return nil
}

func unmountDisk() {
	unix.Sync()
	_ = unix.Unmount(vm.GuestDisk, 0)
}

// runStep runs one step with its timeout, chrooted into root when it is
// not "", its output to out (nil: the console, and the step runs alone:
// what it left running is killed when it ends), then sends back what it
// collected, and says whether it ran out of time. Only a failure of the
// guest itself is an error; a step that fails or times out is reported.
func runStep(rep *vm.Reporter, s vm.Step, root string, out io.Writer) (timedOut bool, err error) {
	if len(s.Argv) == 0 {
		return false, fmt.Errorf("step %q has no program", s.Name)
	}
	for _, d := range append([]string{s.Dir}, s.Mkdir...) {
		if err := os.MkdirAll(root+d, 0o755); err != nil {
			return false, fmt.Errorf("step %s: %w", s.Name, err)
		}
	}
	_ = rep.Begin(s.Name)
	start := time.Now()
	timeout := time.Duration(s.Timeout)
	if timeout <= 0 {
		timeout = time.Hour
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Argv[0], s.Argv[1:]...)
	cmd.Dir = s.Dir
	cmd.Env = s.Env
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if out != nil {
		cmd.Stdout, cmd.Stderr = out, out
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Chroot: root}
	// On timeout, say where the step was stuck, then kill every process but
	// init: the step's children run in their own process groups.
	cmd.Cancel = func() error {
		var w io.Writer = os.Stdout
		if out != nil {
			w = out
		}
		reportStuck(w, s.Name, cmd.Process.Pid)
		return unix.Kill(-1, unix.SIGKILL)
	}
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	code, reason := 0, ""
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		code, reason = -1, fmt.Sprintf("timeout: killed after %s", timeout)
	case errors.As(err, &ee):
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			reason = "killed by " + ws.Signal().String()
		}
	case err != nil:
		code, reason = -1, err.Error()
	}
	if out == nil {
		endStep()
	}
	_ = rep.End(s.Name, code, time.Since(start), reason)
	return ctx.Err() != nil, sendBack(rep, s)
}

// sendBack sends what step s collected, if it collects anything.
func sendBack(rep *vm.Reporter, s vm.Step) error {
	if len(s.Collect) == 0 {
		return nil
	}
	base := s.CollectBase
	if base == "" {
		base = s.Dir
	}
	data, err := vm.Pack(base, s.Collect)
	if err != nil {
		return fmt.Errorf("step %s: %w", s.Name, err)
	}
	return rep.Blob(s.Name, data)
}

// reapAll waits for the children init inherited, for at most d.
func reapAll(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		pid, err := unix.Wait4(-1, nil, unix.WNOHANG, nil)
		switch {
		case errors.Is(err, unix.ECHILD):
			return
		case err == nil && pid > 0:
			continue
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// powerOff flushes the disks and powers the machine off (qemu then exits
// 0). Should that fail, init returns and the kernel panics, which ends
// qemu too (panic=-1, -no-reboot).
func powerOff() {
	unix.Sync()
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		fmt.Fprintf(os.Stderr, "mapchaos-guest: power off: %v\n", err)
	}
	time.Sleep(5 * time.Second)
}
