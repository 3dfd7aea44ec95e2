package writers

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// CopyTree makes dst, which must not exist, a copy of the directory src
// as a writer left it: each regular file a new file of the same bytes,
// mode and modification time (ioctl(FICLONE) where the file system can
// share the blocks, xfs and btrfs; else copy_file_range), each symlink a
// symlink of the same text, each directory a directory. No file is
// hard-linked to src: a writer that changes a copy in place leaves src as
// it was. Nothing is fsynced (a killed writer does not lose the page
// cache). Any other kind of entry (a FIFO, a socket) is an error.
func CopyTree(dst, src string) error { return tree(dst, src, Clone) }

// LinkTree makes dst, which must not exist, hold what the directory src
// holds as CopyTree does, but each regular file a hard link to src's: no
// data is copied. Only for a writer that keeps every file it finds
// (Properties.KeepsFiles): any other would change src through the link.
func LinkTree(dst, src string) error {
	return tree(dst, src, func(to, from string) error {
		if err := os.Link(from, to); err != nil {
			return fmt.Errorf("link %s: %w", from, err)
		}
		return nil
	})
}

// tree makes dst a directory holding what src holds: file makes each
// regular file, symlinks and directories are made again.
func tree(dst, src string, file func(to, from string) error) error {
	st, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("copy %s: a %s, not a directory", src, st.Mode().Type())
	}
	if err := os.Mkdir(dst, st.Mode().Perm()); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return fill(dst, src, file)
}

// CopyInto makes the directory dst, which must exist and be empty, hold
// copies of what the directory src holds, as CopyTree does: dst itself
// stays the same directory (an NFS client's handle of it stays valid).
func CopyInto(dst, src string) error {
	ents, err := os.ReadDir(dst)
	if err != nil {
		return fmt.Errorf("copy into %s: %w", dst, err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("copy into %s: not empty (%s)", dst, ents[0].Name())
	}
	return fill(dst, src, Clone)
}

// fill makes in the directory dst what the directory src holds.
func fill(dst, src string, file func(to, from string) error) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	for _, e := range ents {
		from, to := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		switch e.Type() {
		case 0:
			err = file(to, from)
		case fs.ModeDir:
			err = tree(to, from, file)
		case fs.ModeSymlink:
			var link string
			if link, err = os.Readlink(from); err == nil {
				err = os.Symlink(link, to)
			}
		default:
			err = fmt.Errorf("copy %s: a %s: want regular files, symlinks and directories", from, e.Type())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Clone creates dst, which must not exist, as a copy of the regular file
// src with its mode and modification time: ioctl(FICLONE) where the file
// system shares blocks (no data is copied), copy_file_range otherwise.
// dst is not fsynced.
func Clone(dst, src string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("clone %s: %w", src, err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return fmt.Errorf("clone %s: %w", src, err)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, st.Mode().Perm())
	if err != nil {
		return fmt.Errorf("clone %s: %w", src, err)
	}
	defer func() {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("clone %s to %s: %w", src, dst, cerr)
		}
		if err != nil {
			os.Remove(dst)
		}
	}()
	if cerr := unix.IoctlFileClone(int(out.Fd()), int(in.Fd())); cerr != nil {
		if _, err := io.Copy(out, in); err != nil {
			return fmt.Errorf("clone %s to %s: %w (FICLONE: %v)", src, dst, err, cerr)
		}
	}
	// The mode as it was, whatever the umask; the modification time as it
	// was, so that an updater comparing times (rsync) sees what it saw.
	if err := out.Chmod(st.Mode().Perm()); err != nil {
		return fmt.Errorf("clone %s to %s: %w", src, dst, err)
	}
	if err := os.Chtimes(dst, time.Time{}, st.ModTime()); err != nil {
		return fmt.Errorf("clone %s to %s: %w", src, dst, err)
	}
	return nil
}
