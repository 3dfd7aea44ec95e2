package writers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// chunk is the size of one write when bytes are copied with pread and
// pwrite: rsync --inplace writes 256 KiB at a time.
const chunk = 256 << 10

// perm is the mode of every file a writer creates.
const perm = 0o644

// op is one update in progress. It holds the target's directory open and
// reaches every file in it through that descriptor with *at system calls
// and base names, so a writer cannot touch a file anywhere else. The source
// is opened read-only.
type op struct {
	ctx   context.Context
	u     Update
	dir   string // the target's directory, for messages and listing
	dirfd int
	base  string // the target's base name
	src   int    // the source, O_RDONLY
	size  int64  // the source's size
}

// begin checks ctx, opens the target's directory and the source, and makes
// sure the source is a regular file that is not the target itself.
func begin(ctx context.Context, u Update) (*op, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("update %s: %w", u.Target, err)
	}
	o := &op{ctx: ctx, u: u, dir: filepath.Dir(u.Target), base: filepath.Base(u.Target), dirfd: -1, src: -1}
	if o.base == "." || o.base == ".." || o.base == string(filepath.Separator) {
		return nil, fmt.Errorf("update %q: target is not a file name", u.Target)
	}
	var err error
	if o.dirfd, err = unix.Open(o.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		return nil, &os.PathError{Op: "open", Path: o.dir, Err: err}
	}
	if o.src, err = unix.Open(u.Source, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		o.close()
		return nil, &os.PathError{Op: "open", Path: u.Source, Err: err}
	}
	var src, dst unix.Stat_t
	if err := unix.Fstat(o.src, &src); err != nil {
		o.close()
		return nil, &os.PathError{Op: "fstat", Path: u.Source, Err: err}
	}
	if src.Mode&unix.S_IFMT != unix.S_IFREG {
		o.close()
		return nil, fmt.Errorf("update %s: source %s is not a regular file", u.Target, u.Source)
	}
	if unix.Fstatat(o.dirfd, o.base, &dst, 0) == nil && dst.Dev == src.Dev && dst.Ino == src.Ino {
		o.close()
		return nil, fmt.Errorf("update %s: source %s is the target itself", u.Target, u.Source)
	}
	o.size = src.Size
	return o, nil
}

// close releases the directory and the source.
func (o *op) close() {
	for _, fd := range []int{o.src, o.dirfd} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// path names a file of the target's directory in messages.
func (o *op) path(name string) string { return filepath.Join(o.dir, name) }

func (o *op) pathErr(call, name string, err error) error {
	return &os.PathError{Op: call, Path: o.path(name), Err: err}
}

// step announces the mutating system call desc. When ctx is done it returns
// an error instead, and the call must not be made.
func (o *op) step(desc string) error {
	if err := o.ctx.Err(); err != nil {
		return fmt.Errorf("update %s: stopped before %s: %w", o.u.Target, desc, err)
	}
	o.u.step(desc)
	return nil
}

// openat opens name in the target's directory. O_CLOEXEC and O_NOFOLLOW are
// always added (and not shown in the step): a writer never follows a
// symlink out of the directory.
func (o *op) openat(name string, flags int) (int, error) {
	desc := fmt.Sprintf("openat(%s, %s)", name, openFlags(flags))
	if flags&unix.O_CREAT != 0 {
		desc = fmt.Sprintf("openat(%s, %s, %#o)", name, openFlags(flags), perm)
	}
	if err := o.step(desc); err != nil {
		return -1, err
	}
	fd, err := unix.Openat(o.dirfd, name, flags|unix.O_CLOEXEC|unix.O_NOFOLLOW, perm)
	if err != nil {
		return -1, o.pathErr("openat", name, err)
	}
	return fd, nil
}

// openFlags spells the flags that matter to a reader of the target.
func openFlags(flags int) string {
	parts := []string{map[int]string{unix.O_RDONLY: "O_RDONLY", unix.O_WRONLY: "O_WRONLY", unix.O_RDWR: "O_RDWR"}[flags&unix.O_ACCMODE]}
	for _, f := range []struct {
		bit  int
		name string
	}{{unix.O_CREAT, "O_CREAT"}, {unix.O_EXCL, "O_EXCL"}, {unix.O_TRUNC, "O_TRUNC"}} {
		if flags&f.bit != 0 {
			parts = append(parts, f.name)
		}
	}
	return strings.Join(parts, "|")
}

// copy copies the whole source into fd from offset 0 with copy_file_range,
// as cp(1) does, calling it again until every byte is copied. Where the
// kernel cannot copy between the two files it goes on with pread and pwrite.
func (o *op) copy(fd int, name string) error {
	for off := int64(0); off < o.size; {
		n := o.size - off
		desc := fmt.Sprintf("copy_file_range(%d bytes)", n)
		if off > 0 {
			desc = fmt.Sprintf("copy_file_range(offset %d, %d bytes)", off, n)
		}
		if err := o.step(desc); err != nil {
			return err
		}
		roff, woff := off, off
		got, err := unix.CopyFileRange(o.src, &roff, fd, &woff, int(n), 0)
		switch {
		case errors.Is(err, unix.EXDEV), errors.Is(err, unix.ENOSYS),
			errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EINVAL):
			return o.pwriteFrom(fd, name, off)
		case err != nil:
			return o.pathErr("copy_file_range", name, err)
		case got == 0:
			return fmt.Errorf("copy %s to %s: source shrank: %w", o.u.Source, o.path(name), io.ErrUnexpectedEOF)
		}
		off += int64(got)
	}
	return nil
}

// pwriteFrom copies the source into fd from offset off to the end, chunk
// bytes at a time, with one step per chunk.
func (o *op) pwriteFrom(fd int, name string, off int64) error {
	buf := make([]byte, chunk)
	for off < o.size {
		b := buf[:min(int64(chunk), o.size-off)]
		if err := o.pread(b, off); err != nil {
			return err
		}
		if err := o.step(fmt.Sprintf("pwrite(offset %d, %d bytes)", off, len(b))); err != nil {
			return err
		}
		for len(b) > 0 { // a short write is finished without a new step
			n, err := unix.Pwrite(fd, b, off)
			if err != nil {
				return o.pathErr("pwrite", name, err)
			}
			b, off = b[n:], off+int64(n)
		}
	}
	return nil
}

// pread fills b from the source at offset off.
func (o *op) pread(b []byte, off int64) error {
	for len(b) > 0 {
		n, err := unix.Pread(o.src, b, off)
		if err != nil {
			return &os.PathError{Op: "pread", Path: o.u.Source, Err: err}
		}
		if n == 0 {
			return fmt.Errorf("read %s: source shrank: %w", o.u.Source, io.ErrUnexpectedEOF)
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}

func (o *op) ftruncate(fd int, name string, size int64) error {
	if err := o.step(fmt.Sprintf("ftruncate(%d)", size)); err != nil {
		return err
	}
	if err := unix.Ftruncate(fd, size); err != nil {
		return o.pathErr("ftruncate", name, err)
	}
	return nil
}

func (o *op) fchmod(fd int, name string) error {
	if err := o.step(fmt.Sprintf("fchmod(%#o)", perm)); err != nil {
		return err
	}
	if err := unix.Fchmod(fd, perm); err != nil {
		return o.pathErr("fchmod", name, err)
	}
	return nil
}

// fsync flushes a file; it changes nothing readers can see, so it is no step.
func (o *op) fsync(fd int, name string) error {
	if err := unix.Fsync(fd); err != nil {
		return o.pathErr("fsync", name, err)
	}
	return nil
}

// fsyncDir makes the directory's entries durable, as geoipupdate does after
// its rename.
func (o *op) fsyncDir() error {
	if err := unix.Fsync(o.dirfd); err != nil {
		return &os.PathError{Op: "fsync", Path: o.dir, Err: err}
	}
	return nil
}

func (o *op) closeFile(fd int, name string) error {
	if err := unix.Close(fd); err != nil {
		return o.pathErr("close", name, err)
	}
	return nil
}

func (o *op) renameat(from, to string) error {
	if err := o.step(fmt.Sprintf("renameat(%s, %s)", from, to)); err != nil {
		return err
	}
	if err := unix.Renameat(o.dirfd, from, o.dirfd, to); err != nil {
		return &os.LinkError{Op: "renameat", Old: o.path(from), New: o.path(to), Err: err}
	}
	return nil
}

func (o *op) unlinkat(name string) error {
	if err := o.step(fmt.Sprintf("unlinkat(%s)", name)); err != nil {
		return err
	}
	if err := unix.Unlinkat(o.dirfd, name, 0); err != nil {
		return o.pathErr("unlinkat", name, err)
	}
	return nil
}

// symlinkat creates the link name pointing to dest.
func (o *op) symlinkat(dest, name string) error {
	if err := o.step(fmt.Sprintf("symlinkat(%s, %s)", dest, name)); err != nil {
		return err
	}
	if err := unix.Symlinkat(dest, o.dirfd, name); err != nil {
		return &os.LinkError{Op: "symlinkat", Old: dest, New: o.path(name), Err: err}
	}
	return nil
}

// discard removes a file this update created and did not publish. It runs
// on the way out of a failed or cancelled update, so it ignores ctx and
// errors; it is still announced as a step.
func (o *op) discard(name string) {
	o.u.step(fmt.Sprintf("unlinkat(%s)", name))
	unix.Unlinkat(o.dirfd, name, 0)
}

// writeNew creates name, a file readers do not use yet (a temporary file
// or a new data file), fills it with the source, fsyncs and closes it. If
// that fails, the file is discarded.
func (o *op) writeNew(name string, flags int) error {
	fd, err := o.openat(name, flags)
	if err != nil {
		return err
	}
	err = o.copy(fd, name)
	if err == nil {
		err = o.fsync(fd, name)
	}
	if cerr := o.closeFile(fd, name); err == nil {
		err = cerr
	}
	if err != nil {
		o.discard(name)
	}
	return err
}
