package writers

import "context"

// SymlinkRecreate removes the target symlink and creates it again pointing
// at a new data file, as `rm -f t && ln -s new t` (and some `ln -sf`
// implementations) do. The target must be a relative symlink to a data file
// in the same directory (see Install). Its system calls:
//
//	openat(target.vSeq, O_WRONLY|O_CREAT|O_EXCL, 0644)
//	copy_file_range(whole file)
//	fsync(target.vSeq), close
//	unlinkat(target)
//	symlinkat(target.vSeq, target)
//	unlinkat(older data files)   (all but the new one and the previous one)
//
// Between unlinkat and symlinkat the target does not exist: a reader
// opening it then gets ENOENT. Data files are kept and pruned as
// SymlinkSwap does.
type SymlinkRecreate struct{}

// Update implements Writer.
func (SymlinkRecreate) Update(ctx context.Context, u Update) error {
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
	if err := o.unlinkat(o.base); err != nil {
		o.discard(name)
		return err
	}
	if err := o.symlinkat(name, o.base); err != nil {
		return err // the target is missing, as after a killed `rm -f t && ln -s`
	}
	return o.prune(name, prev)
}
