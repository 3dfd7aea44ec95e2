package step

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// decoder turns a trapped system call into a Call when it concerns the
// target or its directory, and into nil otherwise.
type decoder struct {
	names map[uint64]string
	// tdir is the canonical directory of the target: file names in it
	// are shown bare, others relative to it.
	tdir string
	// dirs are the watched directories (canonical): the target's, and
	// the one its symlink pointed into when the run began.
	dirs []string
}

// newDecoder watches the directory of target and, when target is a
// symlink, the directory of the file it resolves to.
func newDecoder(target string) (*decoder, error) {
	abs, err := filepath.Abs(target)
	if err != nil {
		return nil, err
	}
	tdir, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return nil, fmt.Errorf("the target's directory: %w", err)
	}
	d := &decoder{names: syscallNames(), tdir: tdir, dirs: []string{tdir}}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		if rd := filepath.Dir(real); !slices.Contains(d.dirs, rd) {
			d.dirs = append(d.dirs, rd)
		}
	}
	return d, nil
}

// watched reports whether path (absolute, clean) is a watched directory
// or an entry of one.
func (d *decoder) watched(path string) bool {
	if slices.Contains(d.dirs, path) || slices.Contains(d.dirs, filepath.Dir(path)) {
		return true
	}
	// The path may reach a watched directory through a symlink.
	if real, err := filepath.EvalSymlinks(filepath.Dir(path)); err == nil {
		return slices.Contains(d.dirs, real)
	}
	return false
}

// show names a watched path for a report: bare in the target's
// directory, relative to it elsewhere.
func (d *decoder) show(path string) string {
	if filepath.Dir(path) == d.tdir {
		return fmt.Sprintf("%q", filepath.Base(path))
	}
	if rel, err := filepath.Rel(d.tdir, path); err == nil && !strings.HasPrefix(rel, "../..") {
		return fmt.Sprintf("%q", rel)
	}
	return fmt.Sprintf("%q", path)
}

// resolve makes the path argument p of an *at call absolute.
func resolve(tid int, dirfd int32, p string) (string, error) {
	if filepath.IsAbs(p) {
		return filepath.Clean(p), nil
	}
	var base string
	var err error
	if dirfd == unix.AT_FDCWD {
		base, err = cwdOf(tid)
	} else {
		base, _, err = fdPath(tid, int(dirfd))
	}
	if err != nil {
		return "", err
	}
	return filepath.Join(base, p), nil
}

// pathArg reads the path argument at addr relative to dirfd; ok is false
// when it cannot be read (the call then fails in the kernel too).
func pathArg(tid int, dirfd int32, addr uint64) (string, bool) {
	s, err := readString(tid, addr, unix.PathMax)
	if err != nil {
		return "", false
	}
	p, err := resolve(tid, dirfd, s)
	if err != nil {
		return "", false
	}
	return p, true
}

// fdArg names the file behind fd, and says whether it is watched.
func (d *decoder) fdArg(tid int, fd uint64) (shown string, watched bool) {
	p, deleted, err := fdPath(tid, int(int32(fd)))
	if err != nil || !filepath.IsAbs(p) {
		return "", false
	}
	shown = d.show(p)
	if deleted {
		shown += " (deleted)"
	}
	return shown, d.watched(p)
}

// otherFd names a file the updater reads from (a copy's source): its base
// name only, which does not change from run to run.
func otherFd(tid int, fd uint64) string {
	p, _, err := fdPath(tid, int(int32(fd)))
	if err != nil {
		return fmt.Sprintf("fd %d", int32(fd))
	}
	if filepath.IsAbs(p) {
		return fmt.Sprintf("%q", filepath.Base(p))
	}
	return p
}

// readBytes reads n bytes at addr of task tid.
func readBytes(tid int, addr uint64, n int) ([]byte, error) {
	buf := make([]byte, n)
	local := []unix.Iovec{{Base: &buf[0]}}
	local[0].SetLen(n)
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: n}}
	got, err := unix.ProcessVMReadv(tid, local, remote, 0)
	if err != nil {
		return nil, err
	}
	if got != n {
		return nil, fmt.Errorf("short read of %d bytes at %#x", got, addr)
	}
	return buf, nil
}

// iovecBytes sums the lengths of the cnt iovecs at addr (64-bit layout).
func iovecBytes(tid int, addr, cnt uint64) int64 {
	if cnt == 0 || cnt > 1024 {
		return 0
	}
	b, err := readBytes(tid, addr, int(cnt)*16)
	if err != nil {
		return 0
	}
	var n int64
	for i := 0; i < int(cnt); i++ {
		n += int64(binary.NativeEndian.Uint64(b[i*16+8:]))
	}
	return n
}

// decode returns the Call for the system call tid is stopped in, or nil
// when it does not concern a watched file or directory.
func (d *decoder) decode(tid int, si syscallInfo) *Call {
	c := &Call{Name: d.names[si.nr()], Class: Mutating, lenArg: -1}
	if call, ok := d.decodeFile(tid, c, si); ok {
		return call
	}
	return d.decodeName(tid, c, si)
}

// decodeFile decodes the calls on a file's data or descriptor: opens,
// writes, copies, truncations, barriers, shared mappings, io_uring. ok is
// false for a call of another kind.
func (d *decoder) decodeFile(tid int, c *Call, si syscallInfo) (call *Call, ok bool) {
	a := si.arg
	switch c.Name {
	case "openat":
		return d.open(tid, c, int32(a(0)), a(1), a(2), a(3)), true
	case "open":
		return d.open(tid, c, unix.AT_FDCWD, a(0), a(1), a(2)), true
	case "creat":
		return d.open(tid, c, unix.AT_FDCWD, a(0), unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC, a(1)), true
	case "openat2":
		how, err := readBytes(tid, a(2), 16)
		if err != nil {
			return nil, true
		}
		return d.open(tid, c, int32(a(0)), a(1), binary.NativeEndian.Uint64(how), binary.NativeEndian.Uint64(how[8:])), true
	case "write":
		return d.data(tid, c, a(0), int64(a(2)), fmt.Sprintf("%d bytes", a(2))), true
	case "pwrite64":
		return d.data(tid, c, a(0), int64(a(2)), fmt.Sprintf("%d bytes at offset %d", a(2), int64(a(3)))), true
	case "writev":
		n := iovecBytes(tid, a(1), a(2))
		return d.data(tid, c, a(0), n, fmt.Sprintf("%d bytes in %d iovecs", n, a(2))), true
	case "pwritev", "pwritev2":
		n := iovecBytes(tid, a(1), a(2))
		return d.data(tid, c, a(0), n, fmt.Sprintf("%d bytes in %d iovecs at offset %d", n, a(2), int64(a(3)))), true
	case "copy_file_range", "splice":
		c.lenArg = 4
		return d.copy(tid, c, a(0), a(2), int64(a(4))), true
	case "sendfile":
		c.lenArg = 3
		return d.copy(tid, c, a(1), a(0), int64(a(3))), true
	case "ftruncate":
		return d.onFd(tid, c, a(0), fmt.Sprintf("%d", int64(a(1)))), true
	case "fallocate":
		return d.onFd(tid, c, a(0), fmt.Sprintf("mode %#x, offset %d, %d bytes", a(1), int64(a(2)), int64(a(3)))), true
	case "fchmod":
		return d.onFd(tid, c, a(0), fmt.Sprintf("%#o", a(1))), true
	case "ioctl":
		return d.ioctl(tid, c, a(0), a(1), a(2)), true
	case "fsync", "fdatasync", "syncfs", "sync_file_range":
		c.Class = Barrier
		return d.onFd(tid, c, a(0), ""), true
	case "mmap":
		const want = unix.PROT_WRITE
		if int32(a(4)) < 0 || a(2)&want == 0 || a(3)&unix.MAP_SHARED == 0 {
			return nil, true
		}
		c.Class = Hidden
		return d.onFd(tid, c, a(4), fmt.Sprintf("%d bytes, PROT_WRITE, MAP_SHARED", a(1))), true
	case "io_uring_setup":
		c.Class = Hidden
		c.Text = c.render(fmt.Sprintf("%d entries", a(0)))
		return c, true
	}
	return nil, false
}

// decodeName decodes the calls on names in a directory: truncate, chmod,
// unlink, mkdir, rename, link, symlink.
func (d *decoder) decodeName(tid int, c *Call, si syscallInfo) *Call {
	a := si.arg
	switch c.Name {
	case "truncate":
		return d.onPath(tid, c, unix.AT_FDCWD, a(0), fmt.Sprintf(", %d", int64(a(1))))
	case "chmod":
		return d.onPath(tid, c, unix.AT_FDCWD, a(0), fmt.Sprintf(", %#o", a(1)))
	case "fchmodat", "fchmodat2":
		return d.onPath(tid, c, int32(a(0)), a(1), fmt.Sprintf(", %#o", a(2)))
	case "unlink":
		return d.onPath(tid, c, unix.AT_FDCWD, a(0), "")
	case "rmdir":
		return d.onPath(tid, c, unix.AT_FDCWD, a(0), "")
	case "unlinkat":
		extra := ""
		if a(2)&unix.AT_REMOVEDIR != 0 {
			extra = ", AT_REMOVEDIR"
		}
		return d.onPath(tid, c, int32(a(0)), a(1), extra)
	case "mkdir":
		return d.onPath(tid, c, unix.AT_FDCWD, a(0), fmt.Sprintf(", %#o", a(1)))
	case "mkdirat":
		return d.onPath(tid, c, int32(a(0)), a(1), fmt.Sprintf(", %#o", a(2)))
	case "rename":
		return d.twoPaths(tid, c, unix.AT_FDCWD, a(0), unix.AT_FDCWD, a(1), "")
	case "renameat":
		return d.twoPaths(tid, c, int32(a(0)), a(1), int32(a(2)), a(3), "")
	case "renameat2":
		return d.twoPaths(tid, c, int32(a(0)), a(1), int32(a(2)), a(3), ", "+renameFlags(a(4)))
	case "link":
		return d.twoPaths(tid, c, unix.AT_FDCWD, a(0), unix.AT_FDCWD, a(1), "")
	case "linkat":
		return d.twoPaths(tid, c, int32(a(0)), a(1), int32(a(2)), a(3), "")
	case "symlink":
		return d.symlink(tid, c, a(0), unix.AT_FDCWD, a(1))
	case "symlinkat":
		return d.symlink(tid, c, a(0), int32(a(1)), a(2))
	}
	return nil
}

func (d *decoder) open(tid int, c *Call, dirfd int32, addr, flags, mode uint64) *Call {
	if flags&(unix.O_WRONLY|unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC) == 0 || flags&unix.O_PATH != 0 {
		return nil // opening for reading changes nothing
	}
	p, ok := pathArg(tid, dirfd, addr)
	if !ok || !d.watched(p) {
		return nil
	}
	args := d.show(p) + ", " + openFlags(flags)
	if flags&unix.O_CREAT != 0 {
		args += fmt.Sprintf(", %#o", mode&0o7777)
	}
	c.Text = c.render(args)
	return c
}

// data is a write of file data to fd.
func (d *decoder) data(tid int, c *Call, fd uint64, n int64, what string) *Call {
	name, ok := d.fdArg(tid, fd)
	if !ok {
		return nil
	}
	c.Data, c.Bytes = true, n
	c.Text = c.render(name + ", " + what)
	return c
}

// copy is a copy of n bytes from the file behind in to the one behind out.
func (d *decoder) copy(tid int, c *Call, in, out uint64, n int64) *Call {
	name, ok := d.fdArg(tid, out)
	if !ok {
		return nil
	}
	c.Data, c.Bytes = true, n
	c.Text = c.render(fmt.Sprintf("%s -> %s, %d bytes", otherFd(tid, in), name, n))
	return c
}

// onFd is a call on the file behind fd.
func (d *decoder) onFd(tid int, c *Call, fd uint64, rest string) *Call {
	name, ok := d.fdArg(tid, fd)
	if !ok {
		return nil
	}
	if rest != "" {
		name += ", " + rest
	}
	c.Text = c.render(name)
	return c
}

// onPath is a call on a path relative to dirfd.
func (d *decoder) onPath(tid int, c *Call, dirfd int32, addr uint64, rest string) *Call {
	p, ok := pathArg(tid, dirfd, addr)
	if !ok || !d.watched(p) {
		return nil
	}
	c.Text = c.render(d.show(p) + rest)
	return c
}

// twoPaths is a rename or a link: watched when either end is.
func (d *decoder) twoPaths(tid int, c *Call, fd1 int32, a1 uint64, fd2 int32, a2 uint64, rest string) *Call {
	p1, ok1 := pathArg(tid, fd1, a1)
	p2, ok2 := pathArg(tid, fd2, a2)
	if !ok1 || !ok2 || (!d.watched(p1) && !d.watched(p2)) {
		return nil
	}
	c.Text = c.render(d.show(p1) + ", " + d.show(p2) + rest)
	return c
}

// symlink creates the link at (dirfd, addr) holding the text at dest.
func (d *decoder) symlink(tid int, c *Call, dest uint64, dirfd int32, addr uint64) *Call {
	p, ok := pathArg(tid, dirfd, addr)
	if !ok || !d.watched(p) {
		return nil
	}
	s, err := readString(tid, dest, unix.PathMax)
	if err != nil {
		return nil
	}
	c.Text = c.render(fmt.Sprintf("%q, %s", s, d.show(p)))
	return c
}

// ioctl is watched for FICLONE and FICLONERANGE into a watched file
// (cp and install try it first; it fails on ext4 and tmpfs).
func (d *decoder) ioctl(tid int, c *Call, fd, cmd, arg uint64) *Call {
	var what string
	switch uint32(cmd) {
	case unix.FICLONE:
		what = "FICLONE, from " + otherFd(tid, arg)
	case unix.FICLONERANGE:
		what = "FICLONERANGE"
		if b, err := readBytes(tid, arg, 8); err == nil {
			what += ", from " + otherFd(tid, binary.NativeEndian.Uint64(b))
		}
	default:
		return nil
	}
	return d.onFd(tid, c, fd, what)
}
