package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mapchaos/mapchaos/vm"
)

// diskBySerial waits for the virtio disk whose serial is serial and returns
// its device. A lone disk without a serial attribute is taken as it is.
func diskBySerial(serial string, wait time.Duration) (string, error) {
	deadline := time.Now().Add(wait)
	for {
		devs, _ := filepath.Glob("/sys/block/vd*")
		for _, d := range devs {
			b, err := os.ReadFile(filepath.Join(d, "serial"))
			if err == nil && strings.TrimSpace(string(b)) == serial {
				return "/dev/" + filepath.Base(d), nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no virtio disk with serial %q appeared within %s of loading the virtio modules (disks: %v)", serial, wait, devs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mountRoot mounts the Debian root read-only at vm.GuestRoot and makes it
// a place steps can run in: the kernel's file systems and the work file
// systems bound in, tmpfs where programs write.
func mountRoot() error {
	dev, err := diskBySerial(vm.RootSerial, 15*time.Second)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(vm.GuestRoot, 0o755); err != nil {
		return fmt.Errorf("mkdir %s: %w", vm.GuestRoot, err)
	}
	if err := unix.Mount(dev, vm.GuestRoot, "ext4", unix.MS_RDONLY, "noload"); err != nil {
		return fmt.Errorf("mount the Debian root %s (ext4, read-only) on %s: %w", dev, vm.GuestRoot, err)
	}
	binds := []string{"/proc", "/sys", "/dev", "/tmp", vm.GuestTmpfs}
	if _, err := os.Stat(vm.GuestDisk); err == nil {
		binds = append(binds, vm.GuestDisk)
	}
	for _, b := range binds {
		if err := unix.Mount(b, vm.GuestRoot+b, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s into the Debian root: %w (the root has no %s?)", b, err, b)
		}
	}
	for _, d := range []string{"/run", "/root", "/var/tmp", "/var/lib/nfs"} {
		if err := unix.Mount("tmpfs", vm.GuestRoot+d, "tmpfs", 0, "mode=0755"); err != nil {
			return fmt.Errorf("mount tmpfs on %s in the Debian root: %w", d, err)
		}
	}
	return nil
}

// unmountRoot undoes mountRoot, innermost first, so that the work disk is
// free to be unmounted.
func unmountRoot() {
	for _, d := range []string{"/var/lib/nfs", "/var/tmp", "/root", "/run", vm.GuestDisk, vm.GuestTmpfs, "/tmp", "/dev", "/sys", "/proc"} {
		if err := unix.Unmount(vm.GuestRoot+d, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			fmt.Fprintf(os.Stderr, "mapchaos-guest: unmount %s: %v\n", vm.GuestRoot+d, err)
		}
	}
	_ = unix.Unmount(vm.GuestRoot, unix.MNT_DETACH)
}
