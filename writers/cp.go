package writers

import (
	"context"

	"golang.org/x/sys/unix"
)

// Cp truncates the target and rewrites it in place, as cp(1) of coreutils 9
// (and `cat a > t`) does. Its system calls on the target:
//
//	openat(target, O_WRONLY|O_CREAT|O_TRUNC, 0644)
//	copy_file_range(whole file)  (again until every byte is copied;
//	                              pread/pwrite by 256 KiB where unsupported)
//	close
//
// cp tries ioctl(FICLONE) first; it fails on ext4 and tmpfs, so Cp skips
// it. There is no fsync. The inode stays the same: a reader that mapped
// the target sees it empty from the open on, and SIGBUS past its end.
type Cp struct{}

// Update implements Writer.
func (Cp) Update(ctx context.Context, u Update) error {
	o, err := begin(ctx, u)
	if err != nil {
		return err
	}
	defer o.close()
	fd, err := o.openat(o.base, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC)
	if err != nil {
		return err
	}
	err = o.copy(fd, o.base)
	if cerr := o.closeFile(fd, o.base); err == nil {
		err = cerr
	}
	return err
}
