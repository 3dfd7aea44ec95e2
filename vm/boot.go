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

// Host is what booting an arm64 guest needs on this machine: the
// emulator, the module source with a Go toolchain, and the kernel.
type Host struct {
	Qemu   string
	Source Source
	Kernel Kernel
	// Fetched says whether Setup downloaded the kernel (false: cached);
	// FetchTime is how long that took.
	Fetched   bool
	FetchTime time.Duration
}

// Setup finds qemu, the Go toolchain and the source (cheap checks first),
// then the kernel: from cacheDir, or fetched once with f.
func Setup(ctx context.Context, cwd, cacheDir string, f Fetcher) (Host, error) {
	var h Host
	var err error
	if h.Qemu, err = FindQemu(); err != nil {
		return h, err
	}
	if h.Source, err = FindSource(cwd); err != nil {
		return h, err
	}
	start := time.Now()
	if h.Kernel, h.Fetched, err = EnsureKernel(ctx, cacheDir, f); err != nil {
		return h, fmt.Errorf("cannot get the arm64 kernel (Debian's %s, downloaded once with apt-get into %s): %w", KernelMeta, cacheDir, err)
	}
	h.FetchTime = time.Since(start)
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
	plan.Modules = g.Kernel.Modules
	plan.Disk = g.DiskDir != ""
	initrd := filepath.Join(g.Work, "initrd.cpio.gz")
	if err := g.writeInitramfs(initrd, plan); err != nil {
		return Outcome{}, err
	}
	m := g.Machine
	m.Kernel, m.Initrd = g.Kernel.Image(), initrd
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
