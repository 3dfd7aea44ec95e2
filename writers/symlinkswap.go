package writers

import "context"

// SymlinkSwap points the target symlink at a new data file atomically, as
// `ln -sfn` of coreutils 9 or renameio.Symlink does. The target must be a
// relative symlink to a data file in the same directory (see Install). Its
// system calls:
//
//	openat(target.vSeq, O_WRONLY|O_CREAT|O_EXCL, 0644)
//	copy_file_range(whole file)
//	fsync(target.vSeq), close
//	symlinkat(target.vSeq, target.tmp-link)
//	renameat(target.tmp-link, target)
//	fsync(directory)
//	unlinkat(older data files)   (all but the new one and the previous one)
//
// The target always resolves to a whole file; the previous data file is
// kept for one more update as a grace period for readers still opening it.
type SymlinkSwap struct{}

// Update implements Writer.
func (SymlinkSwap) Update(ctx context.Context, u Update) error {
	o, err := begin(ctx, u)
	if err != nil {
		return err
	}
	defer o.close()
	prev, err := o.linked()
	if err != nil {
		return err
	}
	name, err := o.writeData(prev)
	if err != nil {
		return err
	}
	tmp := o.base + ".tmp-link"
	if err := o.symlinkat(name, tmp); err != nil {
		o.discard(name)
		return err
	}
	if err := o.renameat(tmp, o.base); err != nil {
		o.discard(tmp)
		o.discard(name)
		return err
	}
	if err := o.fsyncDir(); err != nil {
		return err
	}
	return o.prune(name, prev)
}
