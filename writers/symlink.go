package writers

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// This file holds what SymlinkSwap and SymlinkRecreate share: the target is
// a relative symlink to a data file <base>.v<N> in the same directory.

// dataName is the name of the data file holding version seq of the target
// base: Install writes seq 0, update n writes seq n.
func dataName(base string, seq int) string { return fmt.Sprintf("%s.v%d", base, seq) }

// isData reports whether name is a data file of the target base.
func isData(base, name string) bool {
	n, ok := strings.CutPrefix(name, base+".v")
	if !ok || n == "" {
		return false
	}
	_, err := strconv.ParseUint(n, 10, 64)
	return err == nil
}

// linked returns the data file the target link points to, which must be a
// file name in the target's own directory.
func (o *op) linked() (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(o.dirfd, o.base, buf)
	if errors.Is(err, unix.EINVAL) {
		return "", fmt.Errorf("update %s: not a symlink; lay the target out with Install", o.u.Target)
	}
	if err != nil {
		return "", o.pathErr("readlinkat", o.base, err)
	}
	dest := string(buf[:n])
	if dest == "" || dest == "." || dest == ".." || strings.Contains(dest, "/") {
		return "", fmt.Errorf("update %s: link points to %q, not to a file in its own directory", o.u.Target, dest)
	}
	return dest, nil
}

// writeData writes the source to the new data file of this update, whole
// and fsynced, and returns its name. current is the data file the link
// points to now, which must not be overwritten.
func (o *op) writeData(current string) (string, error) {
	name := dataName(o.base, o.u.Seq)
	if name == current {
		return "", fmt.Errorf("update %s: %s is the live data file; Seq %d was used before", o.u.Target, name, o.u.Seq)
	}
	return name, o.writeNew(name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL)
}

// prune removes the data files of the target other than keep: the one it
// points to now and the one it pointed to before, kept as a grace period.
// Readers that still have an older file open or mapped keep its inode. The
// update is done by then, so prune ignores ctx.
func (o *op) prune(keep ...string) error {
	entries, err := os.ReadDir(o.dir)
	if err != nil {
		return fmt.Errorf("update %s: prune old data files: %w", o.u.Target, err)
	}
	for _, e := range entries {
		name := e.Name()
		if !isData(o.base, name) || slices.Contains(keep, name) {
			continue
		}
		o.u.step(fmt.Sprintf("unlinkat(%s)", name))
		if err := unix.Unlinkat(o.dirfd, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("update %s: prune old data files: %w", o.u.Target, o.pathErr("unlinkat", name, err))
		}
	}
	return nil
}
