package vm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// GuestInitPackage is the guest init program, relative to the module root.
const GuestInitPackage = "./cmd/mapchaos-guest"

// Host is what booting a guest needs on this machine: the emulator, the
// module source with a Go toolchain (building for the guest's
// architecture), the kernel, and the Debian root when one was asked for.
type Host struct {
	Arch   Arch
	Qemu   string
	Source Source
	Kernel Kernel
	// Fetched says whether Setup downloaded the kernel (false: cached);
	// FetchTime is how long that took.
	Fetched   bool
	FetchTime time.Duration
	// Root is the guest's Debian root (Want.Root); RootBuilt says whether
	// Setup fetched and built it (false: cached), RootTime how long that
	// took.
	Root      Rootfs
	RootBuilt bool
	RootTime  time.Duration
}

// Want says what Setup prepares: the architecture (zero: Arm64) and
// whether the guest gets a Debian root (Root; RootPackages nil means
// RootPackages).
type Want struct {
	Arch         Arch
	Root         bool
	RootPackages []string
}

// Fetchers fetch the kernel and the root's packages (Apt does both).
type Fetchers interface {
	Fetcher
	PackageFetcher
}

// Setup finds qemu, the Go toolchain and the source (cheap checks first),
// then the kernel and, when wanted, the Debian root: from cacheDir, or
// fetched once with f.
func Setup(ctx context.Context, cwd, cacheDir string, want Want, f Fetchers) (Host, error) {
	h := Host{Arch: want.Arch.orArm64()}
	var err error
	if h.Qemu, err = h.Arch.FindQemu(); err != nil {
		return h, err
	}
	if h.Source, err = FindSource(cwd); err != nil {
		return h, err
	}
	h.Source.GOARCH = h.Arch.Name
	start := time.Now()
	if h.Kernel, h.Fetched, err = EnsureKernel(ctx, cacheDir, h.Arch, f); err != nil {
		return h, fmt.Errorf("cannot get the %s kernel (Debian's %s, downloaded once with apt-get into %s): %w",
			h.Arch.Name, h.Arch.KernelMeta, cacheDir, err)
	}
	h.FetchTime = time.Since(start)
	if !want.Root {
		return h, nil
	}
	start = time.Now()
	if h.Root, h.RootBuilt, err = EnsureRootfs(ctx, cacheDir, h.Arch, want.RootPackages, f); err != nil {
		return h, fmt.Errorf("cannot build the guest's %s Debian root (packages fetched once with apt-get into %s): %w",
			h.Arch.Name, cacheDir, err)
	}
	h.RootTime = time.Since(start)
	return h, nil
}

// Guest is one boot: the init program, the plan it follows, and the
// directory copied onto its ext4 disk.
type Guest struct {
	Kernel Kernel
	// Init is the guest init binary (linux/arm64, static).
	Init string
	// Plan is what the init does; Modules and Disk are filled in by Boot.
	Plan Plan
	// Modules names kernel modules the steps need beyond the disk's
	// ("nfsd", "veth", "dm_log_writes" ...); Boot loads them and what they
	// depend on (Kernel.ModuleOrder).
	Modules []string
	// Root is the image of the guest's Debian root (Rootfs.Image),
	// attached read-only; the init runs every step chrooted into it. ""
	// runs the steps in the initramfs, with busybox.
	Root string
	// DiskDir is copied onto the ext4 disk (mounted at GuestDisk); ""
	// attaches no disk. DiskFreeMiB is the room left on it.
	DiskDir     string
	DiskFreeMiB int
	// Work is a directory for the initramfs and the disk image.
	Work string
	// Machine is the template of the boot (Qemu, memory, Timeout, Pass);
	// Kernel, Initrd and Disk are filled in by Boot.
	Machine Machine
}

// Boot writes the initramfs and the disk image into Work and boots.
func (g Guest) Boot(ctx context.Context) (Outcome, error) {
	if g.Work == "" || g.Init == "" {
		return Outcome{}, errors.New("vm: Guest.Work and Guest.Init are required")
	}
	plan := g.Plan
	var err error
	if plan.Modules, err = g.Kernel.ModuleOrder(g.Modules); err != nil {
		return Outcome{}, err
	}
	plan.Disk = g.DiskDir != ""
	plan.Root = g.Root != ""
	initrd := filepath.Join(g.Work, "initrd.cpio.gz")
	if err := g.writeInitramfs(initrd, plan); err != nil {
		return Outcome{}, err
	}
	m := g.Machine
	m.Kernel, m.Initrd, m.RootDisk = g.Kernel.Image(), initrd, g.Root
	if m.Arch.Name == "" {
		a, err := ArchNamed(g.Kernel.arch())
		if err == nil {
			a, err = a.WithPageSize(g.Kernel.Pages())
		}
		if err != nil {
			return Outcome{}, err
		}
		m.Arch = a
	}
	if plan.Disk {
		m.Disk = filepath.Join(g.Work, "disk.ext4")
		if err := MakeExt4(ctx, m.Disk, g.DiskDir, g.DiskFreeMiB); err != nil {
			return Outcome{}, err
		}
		defer os.Remove(m.Disk)
	}
	return m.Run(ctx)
}

func (g Guest) writeInitramfs(path string, plan Plan) error {
	planJSON, err := json.MarshalIndent(plan, "", "  ")
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	err = Initramfs(f, func(c *CPIO) error {
		for _, d := range []string{"dev", "proc", "sys", "tmp", "run", "mnt"} {
			if err := c.Mkdir(d); err != nil {
				return err
			}
		}
		if err := c.CharDev("dev/console", 0o600, 5, 1); err != nil {
			return err
		}
		if err := c.CopyFile("init", 0o755, g.Init); err != nil {
			return err
		}
		if err := c.CopyFile(GuestBusybox, 0o755, g.Kernel.Busybox()); err != nil {
			return err
		}
		if err := c.File(GuestPlan, 0o644, planJSON); err != nil {
			return err
		}
		for _, m := range plan.Modules {
			if err := c.CopyFile(filepath.Join(GuestModules, m), 0o644, filepath.Join(g.Kernel.ModuleDir(), m)); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("initramfs: %w", cerr)
	}
	return err
}
