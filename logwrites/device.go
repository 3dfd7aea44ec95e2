package logwrites

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	journal             Journal
}

// Journal writes down what is about to be made, before it is made, so that
// what a killed process left can be taken down by the next run
// (mounts.Set is one: its Close and the next run's sweep take down what
// it names). Each method returns an error when the note could not be
// written; then nothing is made.
type Journal interface {
	// JournalLoop: a loop device is about to be attached to image.
	JournalLoop(image string) error
	// JournalDM: a device-mapper device called name is about to be made.
	JournalDM(name string) error
	// JournalMount: something is about to be mounted at at.
	JournalMount(at string) error
}

// noJournal writes nothing down: a nil Journal.
type noJournal struct{}

func (noJournal) JournalLoop(string) error  { return nil }
func (noJournal) JournalDM(string) error    { return nil }
func (noJournal) JournalMount(string) error { return nil }

func orNoJournal(j Journal) Journal {
	if j == nil {
		return noJournal{}
	}
	return j
}

// FileSystems are the file systems a Device can be made with (Mkfs).
var FileSystems = []string{"ext4", "xfs"}

// mkfsOf names each file system's mkfs and its Debian package.
var mkfsOf = map[string][2]string{"ext4": {"mkfs.ext4", "e2fsprogs"}, "xfs": {"mkfs.xfs", "xfsprogs"}}

// Available says why a dm-log-writes device with file system fs (ext4 or
// xfs) cannot be made here (not root, no dmsetup, losetup or mkfs), or nil.
func Available(fs string) error {
	mk, ok := mkfsOf[fs]
	if !ok {
		return fmt.Errorf("dm-log-writes: no file system %q here (want ext4 or xfs)", fs)
	}
	if os.Geteuid() != 0 {
		return errors.New("dm-log-writes needs root (device-mapper and loop devices)")
	}
	if misc, err := os.ReadFile("/proc/misc"); err != nil || !strings.Contains(string(misc), "device-mapper") {
		return errors.New("this kernel has no device-mapper (no device-mapper in /proc/misc: load dm_mod, or run in the guest: --arch amd64)")
	}
	if _, err := os.Stat("/sys/module/dm_log_writes"); err != nil {
		return errors.New("this kernel has no dm-log-writes target (no /sys/module/dm_log_writes: modprobe dm_log_writes, or run in the guest: --arch amd64)")
	}
	for _, p := range []string{"dmsetup", "losetup", mk[0], "mount", "umount"} {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("dm-log-writes on %s needs %s (dmsetup, util-linux, %s): %w", fs, p, mk[1], err)
		}
	}
	return nil
}

// MinSize is the smallest data device each file system can be made on:
// mkfs.xfs (xfsprogs 5.19 and later) refuses file systems under 300 MiB.
var MinSize = map[string]int64{"ext4": 64 << 20, "xfs": 320 << 20}

// Create makes a data image of size bytes and a log image four times as
// large (both sparse) in dir, a loop device on each, and a log-writes
// target named name over them, each written down in j (nil: nowhere)
// before it is made; Mount writes down its mount there too. Close takes
// it all down, also after an error.
func Create(ctx context.Context, dir, name string, size int64, j Journal) (*Device, error) {
	d := &Device{name: name, DataImage: filepath.Join(dir, "data.img"), LogImage: filepath.Join(dir, "log.img"), journal: orNoJournal(j)}
	for _, img := range []struct {
		path string
		size int64
	}{{d.DataImage, size}, {d.LogImage, 4 * size}} {
		if err := sparse(img.path, img.size); err != nil {
			d.Close()
			return nil, err
		}
		if err := d.journal.JournalLoop(img.path); err != nil {
			d.Close()
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
	if err := d.journal.JournalDM(name); err != nil {
		d.Close()
		return nil, err
	}
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

// Mkfs makes file system fs (ext4 or xfs) on the device. Its writes are
// logged: a replay starts from an empty data image.
func (d *Device) Mkfs(ctx context.Context, fs string) error {
	var argv []string
	switch fs {
	case "ext4":
		// Inode tables and the journal written at once, no discards, so
		// that nothing is left for the kernel to write in the background;
		// 4 KiB blocks and 256-byte inodes, as mke2fs gives any file system
		// of 512 MiB or more (under that its "small" type has 1 KiB blocks,
		// and a page is then written back a block at a time: tears inside
		// a page, which the ext4-ordered model does not describe).
		argv = []string{"mkfs.ext4", "-q", "-F", "-b", "4096", "-I", "256",
			"-E", "lazy_itable_init=0,lazy_journal_init=0,nodiscard", d.Path}
	case "xfs":
		// xfsprogs' defaults (4 KiB blocks, crc, reflink, a 64 MiB internal
		// log, which it zeroes: those writes come before the mark), no
		// discards (-K): what a user's mkfs.xfs makes on the guest's kernel.
		argv = []string{"mkfs.xfs", "-q", "-f", "-K", d.Path}
	default:
		return fmt.Errorf("mkfs on %s: no file system %q here (want ext4 or xfs)", d.Path, fs)
	}
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Mount mounts the device's file system fs at dir with the default options
// but noatime (a reader's read must not write).
func (d *Device) Mount(ctx context.Context, fs, dir string) error {
	if err := MountFS(ctx, d.journal, fs, d.Path, dir, ""); err != nil {
		return err
	}
	d.mounted = dir
	return nil
}

// MountFS mounts file system fs on source (a block device, or an image
// with extra "loop") at dir, noatime, written down in j (nil: nowhere)
// first: the mount, and with "loop" the image's loop device. A replay of
// xfs is mounted with nouuid besides (its UUID is the logged device's).
// Mounting replays the journal (ext4) or recovers the log (xfs), as after
// a reboot.
func MountFS(ctx context.Context, j Journal, fs, source, dir, extra string) error {
	j = orNoJournal(j)
	if slices.Contains(strings.Split(extra, ","), "loop") {
		if err := j.JournalLoop(source); err != nil {
			return err
		}
	}
	if err := j.JournalMount(dir); err != nil {
		return err
	}
	opts := "noatime"
	if extra != "" {
		opts += "," + extra
	}
	if fs == "xfs" && extra != "" {
		opts += ",nouuid"
	}
	if out, err := exec.CommandContext(ctx, "mount", "-t", fs, "-o", opts, source, dir).CombinedOutput(); err != nil {
		return fmt.Errorf("mount -t %s -o %s %s %s: %w: %s", fs, opts, source, dir, err, strings.TrimSpace(string(out)))
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
