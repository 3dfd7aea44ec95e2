package writers

import (
	"context"

	"golang.org/x/sys/unix"
)

// RenameNoFsync writes a temporary file next to the target and renames it
// over the target without any fsync, as `curl -o db.tmp URL && mv db.tmp
// db` does. Its system calls:
//
//	openat(target.tmp, O_WRONLY|O_CREAT|O_TRUNC, 0644)
//	copy_file_range(whole file), close
//	renameat(target.tmp, target)
//
// While the machine stays up it is as safe as Rename: the target always
// names a whole file. After a power loss nothing orders the new file's data
// before the rename: the target may name the new file while its data is
// not on disk (empty or zero-filled; see `--mode power-loss`).
type RenameNoFsync struct{}

// Update implements Writer.
func (RenameNoFsync) Update(ctx context.Context, u Update) error {
	o, err := begin(ctx, u)
	if err != nil {
		return err
	}
	defer o.close()
	tmp := o.base + ".tmp"
	fd, err := o.openat(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC)
	if err != nil {
		return err
	}
	err = o.copy(fd, tmp)
	if cerr := o.closeFile(fd, tmp); err == nil {
		err = cerr
	}
	if err == nil {
		err = o.renameat(tmp, o.base)
	}
	if err != nil {
		o.discard(tmp)
	}
	return err
}
