package writers

import (
	"context"

	"golang.org/x/sys/unix"
)

// Rename writes a temporary file next to the target and renames it over the
// target, as geoipupdate does. Its system calls:
//
//	openat(target.temporary, O_WRONLY|O_CREAT|O_TRUNC, 0644)
//	copy_file_range(whole file)
//	fsync(target.temporary), close
//	renameat(target.temporary, target)
//	fsync(directory)
//
// (geoipupdate opens the directory after the rename; Rename holds it open
// from the start, as every writer here does.)
// The target always names a whole file, old or new; a reader that opened or
// mapped the old file keeps it. If the update fails or is cancelled before
// the rename, the temporary file is removed and the target is untouched.
type Rename struct{}

// Update implements Writer.
func (Rename) Update(ctx context.Context, u Update) error {
	o, err := begin(ctx, u)
	if err != nil {
		return err
	}
	defer o.close()
	tmp := o.base + ".temporary"
	if err := o.writeNew(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC); err != nil {
		return err
	}
	if err := o.renameat(tmp, o.base); err != nil {
		o.discard(tmp)
		return err
	}
	return o.fsyncDir()
}
