package vm

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
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
	// PageSize is the kernel's page size in bytes (0: 4096). The kernel
	// package must be built for it (its config is checked when cached).
	PageSize int
	// KernelSuite, when set, is the suite the kernel package comes from,
	// as a suffix of the host's Debian release ("backports":
	// bookworm-backports): apt adds it, on the host's own mirror, to its
	// private sources for the kernel fetch only.
	KernelSuite string
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

// Arm64Pages16K is the arm64 guest with 16 KiB pages: Debian's
// linux-image-arm64-16k (the generic flavour, 6.12 in bookworm-backports:
// ext4 and virtio_mmio are modules there, so the guest loads them), on
// -cpu max, because qemu's Cortex-A57 and A72 lack the 16K translation
// granule (on them this kernel stops before its first word, silently).
// pauth-impdef=on keeps pointer authentication, as on Apple silicon, with
// qemu's cheap algorithm instead of QARMA: measured here, boot to the init
// 4.2 s against 8.8 s with plain max (cortex-a76 4.7 s, which also has
// the granule, but no pointer authentication).
var Arm64Pages16K = Arch{
	Name: "arm64", Qemu: "qemu-system-aarch64", QemuPackage: "qemu-system-arm", QemuEnv: "MAPCHAOS_QEMU",
	Machine: []string{"-M", "virt"}, CPU: "max,pauth-impdef=on", Console: "ttyAMA0", Append: "kpti=0",
	BlockDevice: "virtio-blk-device",
	KernelMeta:  "linux-image-arm64-16k", KernelSuite: "backports",
	DiskModules: []string{"virtio_mmio", "virtio_blk", "crc32c_generic", "ext4"},
	PageSize:    16 << 10,
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

// PageSizes are the page sizes each architecture's guest offers, in
// bytes, each with its Arch.
var PageSizes = map[string]map[int]Arch{
	Arm64.Name: {4 << 10: Arm64, 16 << 10: Arm64Pages16K},
	Amd64.Name: {4 << 10: Amd64},
}

// WithPageSize returns the variant of a whose kernel has pages of size
// bytes (4096: a itself), or an error naming the sizes there are.
func (a Arch) WithPageSize(size int) (Arch, error) {
	a = a.orArm64()
	if v, ok := PageSizes[a.Name][size]; ok {
		return v, nil
	}
	var have []string
	for _, s := range slices.Sorted(maps.Keys(PageSizes[a.Name])) {
		have = append(have, PageSizeName(s))
	}
	msg := fmt.Sprintf("the %s guest has no kernel with %s pages: it offers %s", a.Name, PageSizeName(size), strings.Join(have, " and "))
	if a.Name == Arm64.Name && size == 64<<10 {
		msg += " (Debian packages no 64 KiB-page arm64 kernel; one would have to be built with CONFIG_ARM64_64K_PAGES)"
	}
	return Arch{}, errors.New(msg)
}

// Pages is the kernel's page size in bytes.
func (a Arch) Pages() int {
	if a.PageSize == 0 {
		return 4 << 10
	}
	return a.PageSize
}

// Key names the architecture and page size: "arm64", "arm64-16k"; it
// names the kernel's cache entry.
func (a Arch) Key() string {
	a = a.orArm64()
	if a.Pages() == 4<<10 {
		return a.Name
	}
	return a.Name + "-" + PageSizeName(a.Pages())
}

// PageSizeName writes a page size as the --page-size flag does: "4k",
// "16k", "64k" (bytes when not a whole number of KiB).
func PageSizeName(size int) string {
	if size > 0 && size%1024 == 0 {
		return strconv.Itoa(size/1024) + "k"
	}
	return strconv.Itoa(size)
}

// ParsePageSize reads a --page-size value: "4k", "16k", "64k", or bytes
// ("16384"). Whether a guest offers it is WithPageSize's question.
func ParsePageSize(s string) (int, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	mult := 1
	if t, ok := strings.CutSuffix(v, "k"); ok {
		v, mult = t, 1024
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || n*mult&(n*mult-1) != 0 || n*mult < 4096 {
		return 0, fmt.Errorf("page size %q: want 4k or 16k (a power of two of at least 4096 bytes)", s)
	}
	return n * mult, nil
}

// Describe says how the machine is emulated, for reports and progress
// lines: "qemu-system-aarch64 -M virt -cpu max,pauth-impdef=on -smp 2 -m
// 1536 (TCG), 16 KiB pages".
func (a Arch) Describe(cpus, memMiB int) string {
	a = a.orArm64()
	return fmt.Sprintf("%s %s -cpu %s -smp %d -m %d (TCG), %s pages", a.Qemu, strings.Join(a.Machine, " "), a.CPU, cpus, memMiB,
		strings.Replace(PageSizeName(a.Pages()), "k", " KiB", 1))
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
