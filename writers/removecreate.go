package writers

import (
	"context"
	"errors"

	"golang.org/x/sys/unix"
)

// RemoveCreate removes the target, then creates and writes a new file under
// its name, as install(1) or `cp --remove-destination` does. Its system
// calls on the target:
//
//	unlinkat(target)                          (ENOENT is ignored)
//	openat(target, O_WRONLY|O_CREAT|O_EXCL, 0644)
//	copy_file_range(whole file)
//	fchmod(0644)
//	close
//
// A reader that opened or mapped the old file keeps it, but a reader that
// opens the target during the update finds no file, then an empty or
// partial one.
type RemoveCreate struct{}

// Update implements Writer.
func (RemoveCreate) Update(ctx context.Context, u Update) error {
	o, err := begin(ctx, u)
	if err != nil {
		return err
	}
	defer o.close()
	if err := o.unlinkat(o.base); err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	fd, err := o.openat(o.base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL)
	if err != nil {
		return err
	}
	err = o.copy(fd, o.base)
	if err == nil {
		err = o.fchmod(fd, o.base)
	}
	if cerr := o.closeFile(fd, o.base); err == nil {
		err = cerr
	}
	return err
}
