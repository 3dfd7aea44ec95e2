package vm

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// newc is the magic of a "new ASCII" (SVR4, no CRC) cpio header, the format
// the Linux kernel unpacks as an initramfs.
const newc = "070701"

// cpioTrailer names the last entry of every cpio archive.
const cpioTrailer = "TRAILER!!!"

// File modes of cpio entries (the st_mode type bits).
const (
	modeDir  = 0o040000
	modeReg  = 0o100000
	modeLink = 0o120000
	modeChr  = 0o020000
)

// CPIO writes a newc cpio archive, the format of a Linux initramfs.
// Entries are stored as root-owned with mtime 0, so the same input gives the
// same bytes. The parent directories of every entry are written before it
// (the kernel does not create missing parents). Names are relative: a
// leading "/" is dropped.
type CPIO struct {
	w    io.Writer
	ino  uint32
	dirs map[string]bool
	err  error
	done bool
}

// NewCPIO returns a writer of a newc archive to w. Close writes the
// trailer; it does not close w.
func NewCPIO(w io.Writer) *CPIO {
	return &CPIO{w: w, ino: 1, dirs: map[string]bool{".": true, "": true}}
}

// Mkdir adds a directory (and its parents), mode 0755.
func (c *CPIO) Mkdir(name string) error {
	name, err := c.clean(name)
	if err != nil {
		return err
	}
	return c.mkdirAll(name)
}

// File adds a regular file with the given permission bits (e.g. 0o755).
func (c *CPIO) File(name string, perm fs.FileMode, data []byte) error {
	name, err := c.clean(name)
	if err != nil {
		return err
	}
	if err := c.mkdirAll(path.Dir(name)); err != nil {
		return err
	}
	return c.entry(name, modeReg|uint32(perm.Perm()), 1, 0, 0, data)
}

// CopyFile adds the file at src (on the host) as name.
func (c *CPIO) CopyFile(name string, perm fs.FileMode, src string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("cpio: %w", err)
	}
	return c.File(name, perm, data)
}

// Symlink adds a symbolic link name -> target.
func (c *CPIO) Symlink(name, target string) error {
	name, err := c.clean(name)
	if err != nil {
		return err
	}
	if err := c.mkdirAll(path.Dir(name)); err != nil {
		return err
	}
	return c.entry(name, modeLink|0o777, 1, 0, 0, []byte(target))
}

// CharDev adds a character device node (e.g. dev/console, 5, 1).
func (c *CPIO) CharDev(name string, perm fs.FileMode, major, minor uint32) error {
	name, err := c.clean(name)
	if err != nil {
		return err
	}
	if err := c.mkdirAll(path.Dir(name)); err != nil {
		return err
	}
	return c.entry(name, modeChr|uint32(perm.Perm()), 1, major, minor, nil)
}

// Close writes the trailer. The archive is complete only after Close.
func (c *CPIO) Close() error {
	if c.err != nil {
		return c.err
	}
	if c.done {
		return nil
	}
	c.done = true
	return c.entry(cpioTrailer, 0, 1, 0, 0, nil)
}

func (c *CPIO) clean(name string) (string, error) {
	if c.err != nil {
		return "", c.err
	}
	if c.done {
		return "", errors.New("cpio: write after Close")
	}
	n := path.Clean(strings.TrimLeft(name, "/"))
	if n == "." || n == ".." || strings.HasPrefix(n, "../") {
		return "", fmt.Errorf("cpio: bad entry name %q", name)
	}
	return n, nil
}

func (c *CPIO) mkdirAll(dir string) error {
	if c.dirs[dir] {
		return nil
	}
	if err := c.mkdirAll(path.Dir(dir)); err != nil {
		return err
	}
	c.dirs[dir] = true
	return c.entry(dir, modeDir|0o755, 2, 0, 0, nil)
}

// entry writes one header, the name and the data, each padded to 4 bytes.
func (c *CPIO) entry(name string, mode, nlink, rmajor, rminor uint32, data []byte) error {
	if c.err != nil {
		return c.err
	}
	if int64(len(data)) > 0xFFFFFFFF {
		c.err = fmt.Errorf("cpio: %s: %d bytes is too large for newc", name, len(data))
		return c.err
	}
	ino := c.ino
	c.ino++
	if name == cpioTrailer {
		ino = 0
	}
	hdr := fmt.Sprintf("%s%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		newc, ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rmajor, rminor, len(name)+1, 0)
	buf := make([]byte, 0, len(hdr)+len(name)+4+len(data)+3)
	buf = append(buf, hdr...)
	buf = append(buf, name...)
	buf = append(buf, 0)
	buf = pad4(buf)
	buf = append(buf, data...)
	buf = pad4(buf)
	if _, err := c.w.Write(buf); err != nil {
		c.err = fmt.Errorf("cpio: write %s: %w", name, err)
	}
	return c.err
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// CPIOEntry is one entry read back by ReadCPIO.
type CPIOEntry struct {
	Name         string
	Mode         uint32 // type and permission bits
	NLink        uint32
	RMajor       uint32
	RMinor       uint32
	Data         []byte
	Inode, MTime uint32
}

// IsDir, IsRegular and IsSymlink tell the entry's type.
func (e CPIOEntry) IsDir() bool     { return e.Mode&0o170000 == modeDir }
func (e CPIOEntry) IsRegular() bool { return e.Mode&0o170000 == modeReg }
func (e CPIOEntry) IsSymlink() bool { return e.Mode&0o170000 == modeLink }

// ReadCPIO parses a newc archive up to its trailer, for checks and tests:
// the kernel is the real reader.
func ReadCPIO(r io.Reader) ([]CPIOEntry, error) {
	var out []CPIOEntry
	var off int64
	read := func(n int64) ([]byte, error) {
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("cpio: at byte %d: %w", off, err)
		}
		off += n
		return b, nil
	}
	skipPad := func() error {
		if p := (4 - off%4) % 4; p > 0 {
			_, err := read(p)
			return err
		}
		return nil
	}
	for {
		hdr, err := read(110)
		if err != nil {
			return out, err
		}
		if string(hdr[:6]) != newc {
			return out, fmt.Errorf("cpio: at byte %d: magic %q, want %q", off-110, hdr[:6], newc)
		}
		var f [13]uint32
		for i := range f {
			var v uint32
			if _, err := fmt.Sscanf(string(hdr[6+8*i:14+8*i]), "%08x", &v); err != nil {
				return out, fmt.Errorf("cpio: at byte %d: field %d: %w", off-110, i, err)
			}
			f[i] = v
		}
		name, err := read(int64(f[11]))
		if err != nil {
			return out, err
		}
		if err := skipPad(); err != nil {
			return out, err
		}
		data, err := read(int64(f[6]))
		if err != nil {
			return out, err
		}
		if err := skipPad(); err != nil {
			return out, err
		}
		e := CPIOEntry{Name: strings.TrimRight(string(name), "\x00"), Inode: f[0], Mode: f[1], NLink: f[4],
			MTime: f[5], RMajor: f[9], RMinor: f[10], Data: data}
		if e.Name == cpioTrailer {
			return out, nil
		}
		out = append(out, e)
	}
}

// Initramfs writes a gzip-compressed newc archive to w: fill adds the
// entries.
func Initramfs(w io.Writer, fill func(*CPIO) error) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	c := NewCPIO(zw)
	if err := fill(c); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	if err := c.Close(); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	return nil
}
