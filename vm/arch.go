package vm

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Arch is a guest architecture: its Debian and Go name, the emulator that
// runs it, the machine qemu emulates, its console, and the Debian kernel
// package with the modules its virtio disk needs.
type Arch struct {
	// Name is the Debian architecture, which is also GOARCH: "arm64", "amd64".
	Name string
	// Qemu is the emulator's binary and QemuPackage the Debian package
	// that provides it.
	Qemu, QemuPackage string
	// QemuEnv names the variable that may give the emulator's path.
	QemuEnv string
	// Machine is qemu's machine arguments (before -cpu).
	Machine []string
	// CPU is the default -cpu model.
	CPU string
	// Console is the kernel's serial console device.
	Console string
	// Append is added to every kernel command line of this architecture.
	Append string
	// BlockDevice is the qemu device of a virtio disk.
	BlockDevice string
	// KernelMeta is the Debian metapackage whose dependency names the
	// kernel; DiskModules are the modules the guest loads to see its
	// virtio disks (their dependencies come from .modinfo).
	KernelMeta  string
	DiskModules []string
}

// Arm64 is the arm64 guest: qemu-system-aarch64 -M virt, cortex-a72 (max
// is about 4x slower, for pointer authentication), virtio over MMIO, and
// kpti=0 (see Machine.Args).
var Arm64 = Arch{
	Name: "arm64", Qemu: "qemu-system-aarch64", QemuPackage: "qemu-system-arm", QemuEnv: "MAPCHAOS_QEMU",
	Machine: []string{"-M", "virt"}, CPU: "cortex-a72", Console: "ttyAMA0", Append: "kpti=0",
	BlockDevice: "virtio-blk-device",
	KernelMeta:  "linux-image-cloud-arm64", DiskModules: []string{"virtio_mmio", "virtio_blk"},
}

// Amd64 is the amd64 guest: qemu-system-x86_64 with TCG (never KVM: it
// hangs on these machines), -cpu max, virtio over PCI.
var Amd64 = Arch{
	Name: "amd64", Qemu: "qemu-system-x86_64", QemuPackage: "qemu-system-x86", QemuEnv: "MAPCHAOS_QEMU_X86_64",
	Machine: []string{"-M", "q35,accel=tcg"}, CPU: "max", Console: "ttyS0",
	BlockDevice: "virtio-blk-pci",
	KernelMeta:  "linux-image-cloud-amd64", DiskModules: []string{"virtio_pci", "virtio_blk"},
}

// Arches are the guest architectures, by name.
var Arches = map[string]Arch{Arm64.Name: Arm64, Amd64.Name: Amd64}

// ArchNamed returns the architecture called name ("arm64", "amd64").
func ArchNamed(name string) (Arch, error) {
	if a, ok := Arches[name]; ok {
		return a, nil
	}
	return Arch{}, fmt.Errorf("guest architecture %q: want arm64 or amd64", name)
}

// orArm64 is a, or Arm64 for the zero Arch (callers written before amd64).
func (a Arch) orArm64() Arch {
	if a.Name == "" {
		return Arm64
	}
	return a
}

// FindQemu returns the path of the emulator: $QemuEnv when set, else from
// PATH.
func (a Arch) FindQemu() (string, error) {
	a = a.orArm64()
	if p := os.Getenv(a.QemuEnv); p != "" {
		if !isExecutable(p) {
			return "", fmt.Errorf("%s=%s is not an executable file", a.QemuEnv, p)
		}
		return p, nil
	}
	p, err := exec.LookPath(a.Qemu)
	if err != nil {
		return "", fmt.Errorf("%s not found in PATH: install the Debian package %s "+
			"(apt-get install --no-install-recommends %s) or set %s", a.Qemu, a.QemuPackage, a.QemuPackage, a.QemuEnv)
	}
	return p, nil
}

// debArch reports whether a .deb file name is of this architecture (or
// architecture-independent).
func (a Arch) debArch(name string) bool {
	return strings.HasSuffix(name, "_"+a.orArm64().Name+".deb") || strings.HasSuffix(name, "_all.deb")
}
