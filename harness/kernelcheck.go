package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/mapchaos/mapchaos/logwrites"
	"github.com/mapchaos/mapchaos/mounts"
	"github.com/mapchaos/mapchaos/powerloss"
	"github.com/mapchaos/mapchaos/step"
)

// KernelMark is the mark written into the dm-log-writes log once the
// target is laid out and synced, right before the traced update.
const KernelMark = "mapchaos-update"

// DefaultKernelExtra is how many log entries between barriers are
// replayed, drawn from the seed, besides every barrier.
const DefaultKernelExtra = 16

// kernelRun is one update's file system (ext4 or xfs) over dm-log-writes:
// the update's directory lives on it, so the traced update is the logged one.
type kernelRun struct {
	set  *mounts.Set // journals the loops, the target and every mount
	dev  *logwrites.Device
	fs   string
	dir  string // the images and the replays
	mnt  string // where the logged file system is mounted
	size int64
}

// startKernel makes fs over dm-log-writes in dir and mounts it, each
// written down first in a mounts.Set in state (default
// mounts.DefaultStateDir), after taking down what a killed earlier run
// left there, which r's Events hear; the caller points the update's data
// directory into Mount.
func startKernel(ctx context.Context, r *Run, state, dir, fs string, u stepping, seq int) (*kernelRun, error) {
	if err := logwrites.Available(fs); err != nil {
		return nil, fmt.Errorf("--kernel-check: %w", err)
	}
	if state == "" {
		state = mounts.DefaultStateDir()
	}
	set, swept, err := mounts.Open(state)
	if len(swept) > 0 {
		r.Events.Note("--kernel-check: took down what a killed earlier run left: " + strings.Join(swept, ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("--kernel-check: %w", err)
	}
	k, err := makeKernel(ctx, set, dir, fs, u, seq)
	if err != nil {
		return nil, errors.Join(err, set.Close())
	}
	return k, nil
}

// makeKernel makes fs over dm-log-writes in dir, journalled in set, and
// mounts it.
func makeKernel(ctx context.Context, set *mounts.Set, dir, fs string, u stepping, seq int) (*kernelRun, error) {
	size := logwrites.MinSize[fs]
	for _, v := range u.vers {
		if st, err := os.Stat(v); err == nil {
			size = max(size, (4*st.Size()+(1<<20)-1)&^(1<<20-1))
		}
	}
	k := &kernelRun{set: set, fs: fs, dir: dir, mnt: filepath.Join(dir, "mnt"), size: size}
	if err := os.MkdirAll(k.mnt, 0o755); err != nil {
		return nil, err
	}
	// The recording names directories by their real paths: so must the mount.
	if abs, err := filepath.Abs(k.mnt); err == nil {
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			k.mnt = real
		}
	}
	dev, err := logwrites.Create(ctx, dir, fmt.Sprintf("mapchaos-lw-%d-%d", os.Getpid(), seq), size, set)
	if err != nil {
		return nil, fmt.Errorf("--kernel-check: %w", err)
	}
	k.dev = dev
	if err := dev.Mkfs(ctx, fs); err != nil {
		return nil, errors.Join(fmt.Errorf("--kernel-check: %w", err), dev.Close())
	}
	if err := dev.Mount(ctx, fs, k.mnt); err != nil {
		return nil, errors.Join(fmt.Errorf("--kernel-check: %w", err), dev.Close())
	}
	return k, nil
}

// wrap makes cfg's Prepare sync the file system and mark the log once the
// target is laid out: the update's start.
func (k *kernelRun) wrap(cfg *step.Config) {
	prepare := cfg.Prepare
	cfg.Prepare = func(ctx context.Context) error {
		if err := prepare(ctx); err != nil {
			return err
		}
		fd, err := unix.Open(k.mnt, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			return fmt.Errorf("--kernel-check: syncfs %s: %w", k.mnt, err)
		}
		err = unix.Syncfs(fd)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("--kernel-check: syncfs %s: %w", k.mnt, err)
		}
		return k.dev.Mark(ctx, KernelMark)
	}
}

// close takes the device down (the log is complete then) and whatever
// else of the set is still up (a replay's mount); it may be called again.
func (k *kernelRun) close() error { return errors.Join(k.dev.Close(), k.set.Close()) }

// check replays the log of the update trace t recorded, asks model m
// whether it allows each distinct state, judges each with every reader
// (open) and compares the kernel's states with the model's explored ones
// (ex, judged).
func (k *kernelRun) check(ctx context.Context, t *powerloss.Trace, m powerloss.Model, ex powerloss.Explored, judged []powerloss.Judged, base string, open powerloss.Opener, seed int64, keep bool) (*powerloss.KernelUpdate, error) {
	if err := k.dev.Close(); err != nil {
		return nil, fmt.Errorf("--kernel-check: %w", err)
	}
	log, err := logwrites.Open(k.dev.LogImage)
	if err != nil {
		return nil, fmt.Errorf("--kernel-check: %w", err)
	}
	defer log.Close()
	checker, ok := m.(powerloss.Checker)
	if !ok {
		return nil, fmt.Errorf("--kernel-check: the %s model cannot check a state", m.Name())
	}
	kl := powerloss.KernelLog{Log: log, Size: k.size, Mark: KernelMark, Mount: k.mnt, FS: k.fs, Journal: k.set}
	kr, err := powerloss.ReplayKernel(ctx, t, kl, checker, filepath.Join(k.dir, "replay"), DefaultKernelExtra, seed)
	if err != nil {
		return nil, fmt.Errorf("--kernel-check: %w", err)
	}
	kj, err := powerloss.Judge(ctx, t, kr.KernelRecipes(), filepath.Join(k.dir, "states"), base, open, 1, keep)
	if err != nil {
		return nil, fmt.Errorf("--kernel-check: %w", err)
	}
	ku := &powerloss.KernelUpdate{Device: k.fs + " over dm-log-writes, Linux " + kernelRelease(), Model: m.Name(), Replay: kr, Judged: kj, ModelStates: len(ex.States)}
	ku.ModelProduced, ku.NamesNotProduced = powerloss.Coverage(t, ex, judged, kr)
	for _, img := range []string{k.dev.DataImage, k.dev.LogImage} {
		if !keep {
			os.Remove(img)
		}
	}
	return ku, nil
}

// kernelRelease is uname -r.
func kernelRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return "?"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// kernelNoteOf is the line the CLI prints for the kernel check of up: what
// the replays found, and the first state the model missed.
func kernelNoteOf(writer string, up powerloss.Update) string {
	ku := up.Kernel
	var names []string
	missed := ""
	for i, s := range ku.Replay.States {
		if n := ku.Judged[i].Name; !slices.Contains(names, n) {
			names = append(names, n)
		}
		if !s.InModel && missed == "" {
			missed = fmt.Sprintf("; NOT IN THE MODEL: the replay to log entry %d (%s, after mark %s) left %s (%s)", s.Entry, s.What, s.Mark, ku.Judged[i].OnDisk, s.Pages)
		}
	}
	return fmt.Sprintf("kernel check %s %s (%s, against the %s model): %d log entries (%d flush/FUA), %d replays (%d mounted) in %.1fs: %d distinct states (%s); the kernel left %d of the %d explored model states, none of: %s%s",
		writer, up.Label, ku.Device, ku.Model, ku.Replay.Entries, ku.Replay.Barriers, ku.Replay.Replays, ku.Replay.Mounted, ku.Replay.Duration.Seconds(), len(ku.Replay.States),
		strings.Join(names, ", "), ku.ModelProduced, ku.ModelStates, orNone(ku.NamesNotProduced), missed)
}

func orNone(l []string) string {
	if len(l) == 0 {
		return "(none)"
	}
	return strings.Join(l, ", ")
}
