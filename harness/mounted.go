package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/mounts"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/writers"
)

// Mounted runs like Local, on this machine, with the targets on a file
// system made for the run (package mounts) and taken down after it, also
// on Ctrl-C; a run that was killed is cleaned up by the next one.
//
// For ext4, xfs and btrfs a sparse image sized from the pair is
// loop-mounted, for tmpfs a tmpfs is mounted, at Out/runs: every run
// directory lives there, and what stays of them (logs, rings, stderr) is
// copied back to Out/runs before the file system goes. For overlay each
// combination's data directory is an overlay whose lower layer holds A as
// the target, laid out as the writer expects it: a database shipped in a
// container image and updated inside the running container (the first
// update copies the file up into the upper layer, later ones change that
// copy). The lower layers live on the file system of the mount state
// directory, the upper layers on a tmpfs so that copying up does not
// write the host's disk (a container runtime keeps its writable layer on
// disk; the copy-up is the overlay's either way). With Run.KeepData the
// overlay's data directories are empty after the run: what was kept was
// in the upper layer, which goes with its mount.
//
// Run.Dir must be nil: the run directories are Out/runs/... .
type Mounted struct {
	// FS is ext4, xfs, btrfs, tmpfs or overlay (mounts.Kinds).
	FS string
	// State is the mount state directory (default mounts.DefaultStateDir()).
	State string
}

// Name says where the run happens.
func (m Mounted) Name() string { return "this machine, on " + m.FS + " mounted for the run" }

// Execute mounts the file system, runs r there like Local, and takes the
// file system down again. Without root, tools or kernel support it is an
// *InputError and nothing is made.
func (m Mounted) Execute(ctx context.Context, r *Run) (placed []Placed, err error) {
	if err := mounts.Available(m.FS); err != nil {
		return nil, badInput(err)
	}
	r.FS = m.FS
	if r.Dir != nil {
		return nil, fmt.Errorf("harness.Mounted: Run.Dir must be nil: the run directories live on the file system mounted under Out/runs")
	}
	set, err := openSet(m.State, r, m.FS)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := set.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("--fs %s: take down: %w", m.FS, cerr))
		}
	}()
	if m.FS == "overlay" {
		return m.overlay(ctx, r, set)
	}
	return m.onImage(ctx, r, set)
}

// onImage runs r with Out/runs on the file system, and copies what stays
// of the run directories back to Out/runs after.
func (m Mounted) onImage(ctx context.Context, r *Run, set *mounts.Set) ([]Placed, error) {
	runs := filepath.Join(r.Out, "runs")
	if err := os.RemoveAll(runs); err != nil {
		return nil, fmt.Errorf("clear %s: %w", runs, err)
	}
	size := fsSize(r.Pair, len(r.Plan.Combos), r.KeepData)
	var err error
	if m.FS == "tmpfs" {
		err = set.Tmpfs(size, runs)
	} else {
		err = set.Image(ctx, m.FS, size, runs)
	}
	if err != nil {
		return nil, fmt.Errorf("--fs %s: %w", m.FS, err)
	}
	kernelName, err := mounts.FSType(runs)
	if err != nil {
		return nil, fmt.Errorf("--fs %s: %w", m.FS, err)
	}
	r.Events.Note(fmt.Sprintf("--fs %s: the run directories are on %s (%d MiB) mounted at %s", m.FS, kernelName, max(size, mounts.MinSize[m.FS])>>20, runs))
	placed, err := Local{}.Execute(ctx, r)
	kept := runs + ".kept"
	cerr := copyTree(runs, kept)
	if uerr := set.Unmount(runs); uerr != nil {
		return nil, errors.Join(err, fmt.Errorf("--fs %s: %w", m.FS, uerr))
	}
	if cerr == nil {
		cerr = errors.Join(os.Remove(runs), os.Rename(kept, runs))
	}
	if err != nil {
		return nil, err
	}
	if cerr != nil {
		return nil, fmt.Errorf("--fs %s: keep the run directories: %w", m.FS, cerr)
	}
	for i := range placed {
		placed[i].Report.Run.FS = kernelName
	}
	return placed, nil
}

// fsSize is the size of a file system that holds a run on pair: per
// combination the versions, the target, a new copy beside it and old
// inodes readers still hold, with room to spare; each combination's data
// on top when it is kept.
func fsSize(pair fixtures.Pair, combos int, keep bool) int64 {
	a, b := fileSize(pair.A), fileSize(pair.B)
	size := 6*(a+b) + 64<<20
	if keep {
		size += int64(combos) * (a + b + max(a, b))
	}
	return (size + 1<<20 - 1) &^ (1<<20 - 1)
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// copyTree copies the directories, regular files and symlinks under src to
// dst (which must not exist), leaving out lost+found.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "lost+found" {
			return filepath.SkipDir
		}
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type()&os.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, to)
		case d.Type().IsRegular():
			return copyFile(p, to)
		}
		return nil
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// overlay runs r like Local with each combination's data directory an
// overlay whose lower layer holds A as the target.
func (m Mounted) overlay(ctx context.Context, r *Run, set *mounts.Set) ([]Placed, error) {
	o := &overlayLayer{set: set, lowers: map[bool]string{}, mounted: map[string]bool{}, upper: filepath.Join(set.Dir, "uppers")}
	if err := set.Tmpfs(fsSize(r.Pair, len(r.Plan.Combos), false), o.upper); err != nil {
		return nil, fmt.Errorf("--fs overlay: the upper layers' tmpfs: %w", err)
	}
	r.layer = o
	defer func() { r.layer = nil }()
	r.Events.Note(fmt.Sprintf("--fs overlay: every target starts in an overlay's lower layer (in %s); upper layers on a tmpfs", set.Dir))
	placed, err := Local{}.Execute(ctx, r)
	if rerr := o.releaseAll(); err == nil && rerr != nil {
		err = rerr
	}
	if err != nil {
		return nil, err
	}
	if o.fstype == "" {
		return nil, fmt.Errorf("--fs overlay: no target was laid out in an overlay")
	}
	for i := range placed {
		placed[i].Report.Run.FS = o.fstype
		placed[i].Report.Run.Warnings = append(placed[i].Report.Run.Warnings, fmt.Sprintf(
			"--fs overlay: each target started in an overlay's read-only lower layer (version A, as in a container image); the upper layer, which takes the first update's copy-up and every later change, was on a tmpfs; the lower layer on %s", reports.CaptureRun(set.Dir).FS))
	}
	return placed, nil
}

// layer lays out targets for an environment that puts them somewhere of
// its own; Run.layer nil installs them in place.
type layer interface {
	// install lays out target as src (writers.Install's contract).
	install(target, src string, props writers.Properties) error
	// release takes down what install made under dataDir, if anything.
	release(dataDir string) error
	// view is the path the readers open for target: the target itself, or
	// the same file seen through another mount (an NFS client's).
	view(target string) string
	// settle waits until the readers' view shows the target that was just
	// laid out (a file or a symlink to one), within a bounded time.
	settle(ctx context.Context, target string) error
}

// templater is a layer with a side of its own where a layout can be
// copied and restored without going through the updater's view (an NFS
// server's export): step mode's kill runs start from such a copy.
type templater interface {
	// serverDir is where the files of dataDir really are.
	serverDir(dataDir string) string
	// restore lays out target's directory as the copy tmpl holds and
	// waits until every view shows target.
	restore(ctx context.Context, tmpl, target string) error
}

// install lays out the target of a combination as A.
func (r *Run) install(target, src string, props writers.Properties) error {
	if r.layer == nil {
		return writers.Install(target, src, props)
	}
	return r.layer.install(target, src, props)
}

// readerView is the path the readers open for target.
func (r *Run) readerView(target string) string {
	if r.layer == nil {
		return target
	}
	return r.layer.view(target)
}

// settle waits until the readers' view shows target, laid out anew.
func (r *Run) settle(ctx context.Context, target string) error {
	if r.layer == nil {
		return nil
	}
	return r.layer.settle(ctx, target)
}

// release takes down the layer of dataDir, if any.
func (r *Run) release(dataDir string) error {
	if r.layer == nil {
		return nil
	}
	return r.layer.release(dataDir)
}

// overlayLayer mounts an overlay on each target's directory, its lower
// layer holding A laid out as the writer's properties want it (a file, or
// a symlink to one). A lower layer is made once per layout: src is always
// version A.
type overlayLayer struct {
	set     *mounts.Set
	lowers  map[bool]string // by Properties.SymlinkTarget
	mounted map[string]bool
	upper   string // where the upper layers go (a tmpfs)
	fstype  string // the kernel's name, from the first mount
}

func (o *overlayLayer) install(target, src string, props writers.Properties) error {
	lower, ok := o.lowers[props.SymlinkTarget]
	if !ok {
		lower = filepath.Join(o.set.Dir, fmt.Sprintf("lower-symlink-%v", props.SymlinkTarget))
		if err := os.MkdirAll(lower, 0o755); err != nil {
			return fmt.Errorf("overlay lower layer: %w", err)
		}
		if err := writers.Install(filepath.Join(lower, filepath.Base(target)), src, props); err != nil {
			return fmt.Errorf("overlay lower layer: %w", err)
		}
		o.lowers[props.SymlinkTarget] = lower
	}
	dir := filepath.Dir(target)
	if err := o.set.Overlay(lower, o.upper, dir); err != nil {
		return err
	}
	o.mounted[dir] = true
	if o.fstype == "" {
		o.fstype, _ = mounts.FSType(dir)
	}
	return nil
}

func (o *overlayLayer) view(target string) string { return target }

func (o *overlayLayer) settle(context.Context, string) error { return nil }

func (o *overlayLayer) release(dataDir string) error {
	if !o.mounted[dataDir] {
		return nil
	}
	delete(o.mounted, dataDir)
	return o.set.Unmount(dataDir)
}

func (o *overlayLayer) releaseAll() error {
	var errs []error
	for dir := range o.mounted {
		errs = append(errs, o.release(dir))
	}
	return errors.Join(errs...)
}

// openSet opens the set of mounts a run on file system fs makes, its
// state in state (default mounts.DefaultStateDir), after taking down what
// a killed earlier run left there, which Events hears.
func openSet(state string, r *Run, fs string) (*mounts.Set, error) {
	if state == "" {
		state = mounts.DefaultStateDir()
	}
	set, swept, err := mounts.Open(state)
	if len(swept) > 0 {
		r.Events.Note("--fs: took down what a killed earlier run left: " + strings.Join(swept, ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("--fs %s: %w", fs, err)
	}
	return set, nil
}
