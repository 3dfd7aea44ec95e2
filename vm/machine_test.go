package vm_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/internal/needs"
	"github.com/mapchaos/mapchaos/internal/proctest"
	"github.com/mapchaos/mapchaos/vm"
)

// fakeQemu writes a shell script that stands in for qemu.
func fakeQemu(dir, body string) string {
	p := filepath.Join(dir, "fake-qemu")
	Expect(os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755)).To(Succeed())
	return p
}

var _ = Describe("Machine", func() {
	It("boots virt with the kernel, the initramfs, the disk and a quiet serial console", func() {
		m := vm.Machine{Kernel: "/k/vmlinuz", Initrd: "/w/initrd.cpio.gz", Disk: "/w/disk.ext4"}
		args := strings.Join(m.Args(), " ")
		for _, want := range []string{"-M virt", "-cpu cortex-a72", "-smp 2", "-m 1536", "-nodefaults", "-serial stdio",
			"-no-reboot", "-kernel /k/vmlinuz", "-initrd /w/initrd.cpio.gz", "console=ttyAMA0 panic=-1 quiet kpti=0",
			"-drive file=/w/disk.ext4,if=none,id=d0,format=raw", "-device virtio-blk-device,drive=d0"} {
			Expect(args).To(ContainSubstring(want))
		}
		Expect(strings.Join(vm.Machine{MemMiB: 1024, CPUs: 1, CPU: "max"}.Args(), " ")).To(And(
			ContainSubstring("-m 1024"), ContainSubstring("-smp 1"), ContainSubstring("-cpu max"), Not(ContainSubstring("-drive"))))
	})

	It("boots the amd64 guest under TCG (never KVM) with its own console and PCI disks, the root read-only", func() {
		m := vm.Machine{Arch: vm.Amd64, Kernel: "/k/vmlinuz", Initrd: "/w/i", Disk: "/w/disk.ext4", RootDisk: "/c/root.ext4"}
		args := strings.Join(m.Args(), " ")
		for _, want := range []string{"-M q35,accel=tcg", "-cpu max", "console=ttyS0 panic=-1 quiet",
			"-device virtio-blk-pci,drive=d0,serial=" + vm.DiskSerial,
			"-drive file=/c/root.ext4,if=none,id=d1,format=raw,readonly=on", "-device virtio-blk-pci,drive=d1,serial=" + vm.RootSerial} {
			Expect(args).To(ContainSubstring(want))
		}
		Expect(args).NotTo(ContainSubstring("kvm"))
		Expect(args).NotTo(ContainSubstring("kpti"))
		a, err := vm.ArchNamed("amd64")
		Expect(err).NotTo(HaveOccurred())
		Expect(a.Qemu).To(Equal("qemu-system-x86_64"))
		_, err = vm.ArchNamed("sparc")
		Expect(err).To(MatchError(ContainSubstring(`guest architecture "sparc": want arm64 or amd64`)))
	})

	DescribeTable("a boot without a complete result is a GuestError with the console tail, and nothing is left running",
		func(body string, timeout time.Duration, want string, isTimeout bool) {
			dir := GinkgoT().TempDir()
			m := vm.Machine{Qemu: fakeQemu(dir, body), Kernel: filepath.Join(dir, "k"), Initrd: "i", Timeout: timeout}
			start := time.Now()
			_, err := m.Run(context.Background())
			Expect(time.Since(start)).To(BeNumerically("<", timeout+7*time.Second), "a bounded wait")
			var ge *vm.GuestError
			Expect(errors.As(err, &ge)).To(BeTrue(), "%v", err)
			Expect(err.Error()).To(ContainSubstring(want))
			Expect(errors.Is(err, vm.ErrTimeout)).To(Equal(isTimeout))
			Expect(proctest.Mentioning(dir)).To(BeEmpty())
		},
		Entry("the guest hangs: qemu is killed after the timeout",
			`echo "[    1.0] booting"; echo '@@mapchaos {"ev":"begin","step":"ext4"}'; sleep 600 & sleep 600`, 2*time.Second,
			"killed qemu after 2s", true),
		Entry("the kernel panics (qemu exits 0 after -no-reboot)",
			`echo "[    4.2] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000"`, time.Minute,
			"Kernel panic - not syncing", false),
		Entry("qemu itself fails",
			`echo "qemu-system-aarch64: -kernel k: could not load kernel" >&2; exit 1`, time.Minute,
			"could not load kernel", false),
		Entry("the guest init fails",
			`echo '@@mapchaos {"ev":"fail","reason":"mount /dev/vda (ext4) on /mnt/disk: no such device"}'`, time.Minute,
			"the guest init failed: mount /dev/vda", false),
		Entry("the results come back damaged",
			`echo '@@mapchaos {"ev":"blob","step":"x","size":3,"sha256":"00"}'; echo '@@mapchaos {"ev":"blobend","step":"x"}'; echo '@@mapchaos {"ev":"done"}'`, time.Minute,
			"came back damaged", false),
	)

	It("stops qemu when the context is cancelled", func() {
		dir := GinkgoT().TempDir()
		m := vm.Machine{Qemu: fakeQemu(dir, "sleep 600"), Kernel: filepath.Join(dir, "k"), Timeout: time.Minute}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := m.Run(ctx)
		Expect(err).To(MatchError(context.DeadlineExceeded))
		Expect(err).To(MatchError(ContainSubstring("stopped qemu")))
		Expect(proctest.Mentioning(dir)).To(BeEmpty())
	})

	It("needs a timeout and an emulator", func() {
		_, err := vm.Machine{Qemu: "q"}.Run(context.Background())
		Expect(err).To(MatchError(ContainSubstring("Timeout is required")))
		_, err = vm.Machine{Timeout: time.Second}.Run(context.Background())
		Expect(err).To(MatchError(ContainSubstring("Qemu is required")))
	})

	DescribeTable("FindQemu says what to install",
		func(path, env, want string) {
			GinkgoT().Setenv("PATH", path)
			if env != "" {
				env = filepath.Join(GinkgoT().TempDir(), env)
				Expect(os.WriteFile(env, []byte("data"), 0o644)).To(Succeed())
			}
			GinkgoT().Setenv("MAPCHAOS_QEMU", env)
			_, err := vm.FindQemu()
			Expect(err).To(MatchError(ContainSubstring(want)))
		},
		Entry("not in PATH", "/nonexistent", "", "install the Debian package qemu-system-arm (apt-get install --no-install-recommends qemu-system-arm)"),
		Entry("MAPCHAOS_QEMU is not a program", "/nonexistent", "qemu.txt", "qemu.txt is not an executable file"),
	)
})

var _ = Describe("FindSource", func() {
	It("finds the module root from the working directory", func() {
		GinkgoT().Setenv("MAPCHAOS_SRC", "")
		s, err := vm.FindSource(".")
		Expect(err).NotTo(HaveOccurred())
		Expect(filepath.Join(s.Root, "vm", "gobuild.go")).To(BeAnExistingFile())
		Expect(s.Module).To(Equal(vm.DefaultModule))
	})

	It("finds it from where the binary was built when run elsewhere", func() {
		GinkgoT().Setenv("MAPCHAOS_SRC", "")
		s, err := vm.FindSource(GinkgoT().TempDir())
		Expect(err).NotTo(HaveOccurred())
		Expect(filepath.Join(s.Root, "go.mod")).To(BeAnExistingFile())
	})

	DescribeTable("says what is missing",
		func(setup func(), want string) {
			setup()
			_, err := vm.FindSource(GinkgoT().TempDir())
			Expect(err).To(MatchError(ContainSubstring(want)))
		},
		Entry("MAPCHAOS_SRC without the module", func() {
			GinkgoT().Setenv("MAPCHAOS_SRC", "/tmp")
		}, "MAPCHAOS_SRC=/tmp: no go.mod declaring module github.com/mapchaos/mapchaos"),
		Entry("no Go toolchain", func() {
			GinkgoT().Setenv("PATH", "/nonexistent")
			GinkgoT().Setenv("GOROOT", "")
		}, "the Go toolchain (go) is not in PATH"),
	)
})

// The specs below boot the real arm64 kernel.
var _ = Describe("booting the real arm64 kernel", Ordered, Serial, Label("qemu"), func() {
	var (
		host vm.Host
		work string
		prog string // guestprog, staged on the disk
		disk string
	)

	BeforeAll(func(ctx SpecContext) {
		if _, err := vm.FindQemu(); err != nil {
			needs.Missing(err.Error(), "qemu-system-arm")
		}
		var err error
		host, err = vm.Setup(ctx, ".", vm.DefaultCacheDir(), vm.Want{}, vm.Apt{Log: GinkgoWriter})
		Expect(err).NotTo(HaveOccurred())
		work = GinkgoT().TempDir()
		disk = filepath.Join(work, "disk")
		Expect(host.Source.Build(ctx, vm.GuestInitPackage, filepath.Join(work, "init"))).To(Succeed())
		prog = filepath.Join(work, "guestprog")
		Expect(host.Source.Build(ctx, "./vm/testdata/guestprog", prog)).To(Succeed())
		Expect(os.MkdirAll(disk, 0o755)).To(Succeed())
		Expect(os.Link(prog, filepath.Join(disk, "guestprog"))).To(Succeed())
	}, NodeTimeout(5*time.Minute))

	guest := func(init string, timeout time.Duration, steps ...vm.Step) vm.Guest {
		w := filepath.Join(work, "boot-"+strconv.FormatInt(time.Now().UnixNano(), 36))
		Expect(os.MkdirAll(w, 0o755)).To(Succeed())
		return vm.Guest{Kernel: host.Kernel, Init: init, DiskDir: disk, DiskFreeMiB: 16, Work: w,
			Plan:    vm.Plan{Steps: steps},
			Machine: vm.Machine{Qemu: host.Qemu, MemMiB: 512, Timeout: timeout, Pass: func(l string) { GinkgoWriter.Println("guest |", l) }}}
	}
	p := vm.GuestDisk + "/guestprog"

	It("runs each step on the ext4 disk or tmpfs, brings back exits and files, and powers off", func(ctx SpecContext) {
		out, err := guest(filepath.Join(work, "init"), 2*time.Minute,
			vm.Step{Name: "ext4", Argv: []string{p, "write", vm.GuestDisk + "/w/out.txt", "on ext4"}, Dir: vm.GuestDisk + "/w",
				Timeout: vm.Duration(time.Minute), Collect: []string{vm.GuestDisk + "/w/out.txt"}},
			vm.Step{Name: "fails", Argv: []string{p, "exit", "3"}, Dir: vm.GuestTmpfs + "/x", Timeout: vm.Duration(time.Minute)},
			vm.Step{Name: "missing", Argv: []string{"/nope"}, Dir: vm.GuestTmpfs, Timeout: vm.Duration(time.Minute)},
			vm.Step{Name: "hangs", Argv: []string{p, "sleep", "1h"}, Dir: vm.GuestTmpfs, Timeout: vm.Duration(2 * time.Second)},
			vm.Step{Name: "after", Argv: []string{p, "exit", "0"}, Dir: vm.GuestTmpfs, Timeout: vm.Duration(time.Minute)},
		).Boot(ctx)
		Expect(err).NotTo(HaveOccurred())
		t := out.Transcript
		Expect(t.Done).To(BeTrue())
		Expect(t.Info).To(HaveKeyWithValue("goarch", "arm64"))
		Expect(t.Info).To(HaveKeyWithValue("kernel", host.Kernel.Release))
		Expect(t.Info).To(HaveKeyWithValue("page_size", "4096"))
		Expect(t.Info).To(HaveKeyWithValue("cpus", "2"))

		Expect(t.Step("ext4").Code).To(Equal(0))
		dst := GinkgoT().TempDir()
		Expect(vm.Unpack(t.Step("ext4").Blob, dst)).To(Succeed())
		Expect(os.ReadFile(filepath.Join(dst, "out.txt"))).To(Equal([]byte("on ext4")))
		Expect(t.Step("fails").Code).To(Equal(3))
		Expect(t.Step("missing").Code).To(Equal(-1))
		Expect(t.Step("missing").Reason).To(ContainSubstring("no such file"))
		Expect(t.Step("hangs").Code).To(Equal(-1))
		Expect(t.Step("hangs").Reason).To(ContainSubstring("timeout: killed after 2s"))
		Expect(t.Step("after").Ended).To(BeTrue(), "a step after a timeout still runs")
		Expect(out.Boot).To(BeNumerically("<", out.Elapsed))
		GinkgoWriter.Printf("boot %s, boot-to-result %s\n", out.Boot, out.Elapsed)
		Expect(proctest.Mentioning(work)).To(BeEmpty())
	}, SpecTimeout(3*time.Minute))

	It("kills qemu when the guest hangs past the timeout, with the console tail", func(ctx SpecContext) {
		start := time.Now()
		_, err := guest(filepath.Join(work, "init"), 20*time.Second,
			vm.Step{Name: "hangs", Argv: []string{p, "sleep", "1h"}, Dir: vm.GuestTmpfs, Timeout: vm.Duration(time.Hour)},
		).Boot(ctx)
		Expect(errors.Is(err, vm.ErrTimeout)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring(`during step "hangs"`))
		Expect(err.Error()).To(ContainSubstring("guestprog: sleeping 1h0m0s"))
		Expect(time.Since(start)).To(BeNumerically("<", 35*time.Second))
		Expect(proctest.Mentioning(work)).To(BeEmpty())
	}, SpecTimeout(2*time.Minute))

	It("reports a kernel panic (an init that exits) with the console tail", func(ctx SpecContext) {
		_, err := guest(prog, time.Minute).Boot(ctx)
		var ge *vm.GuestError
		Expect(errors.As(err, &ge)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("the guest stopped without finishing"))
		Expect(err.Error()).To(ContainSubstring("Kernel panic - not syncing: Attempted to kill init"))
		Expect(proctest.Mentioning(work)).To(BeEmpty())
	}, SpecTimeout(2*time.Minute))

	It("the guest init refuses to run anywhere but as PID 1", func() {
		if out, err := exec.Command(filepath.Join(work, "init")).CombinedOutput(); err == nil {
			Fail("the arm64 init ran on the host: " + string(out))
		}
	})
})
