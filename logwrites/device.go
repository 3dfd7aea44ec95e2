package logwrites

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Device is a dm-log-writes target over two loop devices, each on a sparse
// image in a directory of the caller's: writes to Path reach the data
// image, and each is also logged, in the order the disk saw it, on the log
// image (LogImage), with the flushes, FUA writes and marks between them.
type Device struct {
	// Path is the target's block device (/dev/mapper/<name>).
	Path string
	// DataImage and LogImage are the images behind the two loop devices.
	DataImage, LogImage string
	name                string
	loops               []string
	mounted             string
}

// Available says why a dm-log-writes device cannot be made here (not
// root, no dmsetup, losetup or mkfs.ext4), or nil.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("dm-log-writes needs root (device-mapper and loop devices)")
	}
	if misc, err := os.ReadFile("/proc/misc"); err != nil || !strings.Contains(string(misc), "device-mapper") {
		return errors.New("this kernel has no device-mapper (no device-mapper in /proc/misc: load dm_mod, or run in the guest: --arch amd64)")
	}
	if _, err := os.Stat("/sys/module/dm_log_writes"); err != nil {
		return errors.New("this kernel has no dm-log-writes target (no /sys/module/dm_log_writes: modprobe dm_log_writes, or run in the guest: --arch amd64)")
	}
	for _, p := range []string{"dmsetup", "losetup", "mkfs.ext4", "mount", "umount"} {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("dm-log-writes needs %s (dmsetup, util-linux, e2fsprogs): %w", p, err)
		}
	}
	return nil
}

// Create makes a data image of size bytes and a log image four times as
// large (both sparse) in dir, a loop device on each, and a log-writes
// target named name over them. Close takes it all down, also after an error.
func Create(ctx context.Context, dir, name string, size int64) (*Device, error) {
	d := &Device{name: name, DataImage: filepath.Join(dir, "data.img"), LogImage: filepath.Join(dir, "log.img")}
	for _, img := range []struct {
		path string
		size int64
	}{{d.DataImage, size}, {d.LogImage, 4 * size}} {
		if err := sparse(img.path, img.size); err != nil {
			return nil, err
		}
		out, err := exec.CommandContext(ctx, "losetup", "--find", "--show", img.path).CombinedOutput()
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("losetup %s: %w: %s", img.path, err, strings.TrimSpace(string(out)))
		}
		d.loops = append(d.loops, strings.TrimSpace(string(out)))
	}
	table := fmt.Sprintf("0 %d log-writes %s %s", size/512, d.loops[0], d.loops[1])
	if out, err := exec.CommandContext(ctx, "dmsetup", "create", name, "--table", table).CombinedOutput(); err != nil {
		d.Close()
		return nil, fmt.Errorf("dmsetup create %s --table %q: %w: %s (is the dm_log_writes module loaded?)", name, table, err, strings.TrimSpace(string(out)))
	}
	d.Path = "/dev/mapper/" + name
	// Without udev (a minimal guest) nothing makes the node: dmsetup can.
	if _, err := os.Stat(d.Path); err != nil {
		if out, err := exec.CommandContext(ctx, "dmsetup", "mknodes", name).CombinedOutput(); err != nil {
			d.Close()
			return nil, fmt.Errorf("dmsetup mknodes %s: %w: %s", name, err, strings.TrimSpace(string(out)))
		}
	}
	return d, nil
}

// sparse makes an empty file of size bytes at path.
func sparse(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("dm-log-writes image: %w", err)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return fmt.Errorf("dm-log-writes image %s: %w", path, err)
	}
	return f.Close()
}

// MkfsExt4 makes an ext4 file system on the device (its writes are
// logged: a replay starts from an empty data image): inode tables and the
// journal written at once, no discards, so that nothing is left for the
// kernel to write in the background; 4 KiB blocks and 256-byte inodes, as
// mke2fs gives any file system of 512 MiB or more (under that its "small"
// type has 1 KiB blocks, and a page is then written back a block at a
// time: tears inside a page, which the models do not describe).
func (d *Device) MkfsExt4(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "mkfs.ext4", "-q", "-F", "-b", "4096", "-I", "256",
		"-E", "lazy_itable_init=0,lazy_journal_init=0,nodiscard", d.Path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mkfs.ext4 %s: %w: %s", d.Path, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Mount mounts the device's ext4 at dir with the default options but
// noatime (a reader's read must not write).
func (d *Device) Mount(ctx context.Context, dir string) error {
	if err := MountExt4(ctx, d.Path, dir, ""); err != nil {
		return err
	}
	d.mounted = dir
	return nil
}

// MountExt4 mounts the ext4 on source (a block device, or an image with
// extra "loop") at dir, noatime.
func MountExt4(ctx context.Context, source, dir, extra string) error {
	opts := "noatime"
	if extra != "" {
		opts += "," + extra
	}
	if out, err := exec.CommandContext(ctx, "mount", "-t", "ext4", "-o", opts, source, dir).CombinedOutput(); err != nil {
		return fmt.Errorf("mount -t ext4 -o %s %s %s: %w: %s", opts, source, dir, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Unmount unmounts what Mount mounted (which writes back and flushes
// everything: logged).
func (d *Device) Unmount() error {
	if d.mounted == "" {
		return nil
	}
	at := d.mounted
	d.mounted = ""
	return Unmount(at)
}

// Unmount unmounts dir; a mount still busy is detached lazily.
func Unmount(dir string) error {
	if err := unix.Unmount(dir, 0); err != nil {
		if errors.Is(err, unix.EBUSY) {
			return unix.Unmount(dir, unix.MNT_DETACH)
		}
		return fmt.Errorf("umount %s: %w", dir, err)
	}
	return nil
}

// Mark writes a mark called name into the log, after every write the
// kernel had flushed by then.
func (d *Device) Mark(ctx context.Context, name string) error {
	if out, err := exec.CommandContext(ctx, "dmsetup", "message", d.name, "0", "mark", name).CombinedOutput(); err != nil {
		return fmt.Errorf("dmsetup message %s 0 mark %s: %w: %s", d.name, name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Close unmounts the device if mounted, removes the target (which logs
// what was still unflushed and a last mark, dm-log-writes-end) and
// detaches the loop devices. The images stay: the caller's directory
// holds them. It may be called again.
func (d *Device) Close() error {
	var errs []error
	if err := d.Unmount(); err != nil {
		errs = append(errs, err)
	}
	if d.Path != "" {
		if out, err := exec.Command("dmsetup", "remove", "--retry", d.name).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("dmsetup remove %s: %w: %s", d.name, err, strings.TrimSpace(string(out))))
		}
		d.Path = ""
	}
	for _, l := range d.loops {
		if out, err := exec.Command("losetup", "-d", l).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("losetup -d %s: %w: %s", l, err, strings.TrimSpace(string(out))))
		}
	}
	d.loops = nil
	return errors.Join(errs...)
}
