package writers

import (
	"context"

	"golang.org/x/sys/unix"
)

// Inplace overwrites the target's bytes without truncating it first and then
// sets its length, as `rsync --inplace` (receiver side) or
// `dd conv=notrunc` does. Its system calls on the target:
//
//	openat(target, O_WRONLY|O_CREAT, 0644)   (no O_TRUNC)
//	pwrite(offset 0, 262144 bytes)
//	pwrite(offset 262144, 262144 bytes)      (one per 256 KiB of the source)
//	...
//	ftruncate(size of the source)            (always, as rsync does)
//	close
//
// The inode stays the same. A reader sees old and new pages mixed while the
// writes go on; when the new file is smaller, SIGBUS past the new end
// starts at the ftruncate.
type Inplace struct{}

// Update implements Writer.
func (Inplace) Update(ctx context.Context, u Update) error {
	o, err := begin(ctx, u)
	if err != nil {
		return err
	}
	defer o.close()
	fd, err := o.openat(o.base, unix.O_WRONLY|unix.O_CREAT)
	if err != nil {
		return err
	}
	err = o.pwriteFrom(fd, o.base, 0)
	if err == nil {
		err = o.ftruncate(fd, o.base, o.size)
	}
	if cerr := o.closeFile(fd, o.base); err == nil {
		err = cerr
	}
	return err
}
