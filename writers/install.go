package writers

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Install lays out a new target holding a copy of src, as the writers of a
// strategy with props expect it: a regular file, or, with
// props.SymlinkTarget, a data file <base>.v0 in the target's directory and
// a relative symlink target -> <base>.v0. The data is fsynced. Install
// fails if target (or the data file) exists already.
func Install(target, src string, props Properties) error { return install(target, src, props, true) }

// InstallUnsynced is Install without the fsync, for a layout whose
// durability does not matter: step mode's, where a killed writer does not
// lose the page cache and no power is cut.
func InstallUnsynced(target, src string, props Properties) error {
	return install(target, src, props, false)
}

func install(target, src string, props Properties, sync bool) error {
	if _, err := os.Lstat(target); err == nil {
		return fmt.Errorf("install %s: target %w", target, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("install %s: %w", target, err)
	}
	if !props.SymlinkTarget {
		return copyNew(target, src, sync)
	}
	data := filepath.Join(filepath.Dir(target), dataName(filepath.Base(target), 0))
	if err := copyNew(data, src, sync); err != nil {
		return err
	}
	if err := os.Symlink(filepath.Base(data), target); err != nil {
		os.Remove(data)
		return fmt.Errorf("install %s: %w", target, err)
	}
	return nil
}

// copyNew creates dst, which must not exist, as a copy of src, fsynced
// with sync.
func copyNew(dst, src string, sync bool) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("install %s: %w", dst, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("install %s: %w", dst, err)
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(dst)
			err = fmt.Errorf("install %s: %w", dst, err)
		}
	}()
	if _, err := io.Copy(out, in); err != nil || !sync {
		return err
	}
	return out.Sync()
}
