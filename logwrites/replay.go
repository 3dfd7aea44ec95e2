package logwrites

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Replayer rebuilds the data device as it was after any entry of a log,
// in order: a cursor image holds the device after the entries applied so
// far (a data device that started empty, as under mkfs), and each state
// asked for is a copy of it, so that mounting it (ext4 replays its journal,
// as after a reboot) changes neither the cursor nor the log.
type Replayer struct {
	log    *Log
	dir    string
	size   int64
	cursor *os.File
	at     int
}

// NewReplayer replays log onto an empty device of size bytes, with its
// images in dir (which it owns).
func NewReplayer(log *Log, dir string, size int64) (*Replayer, error) {
	f, err := os.OpenFile(filepath.Join(dir, "cursor.img"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("replay cursor: %w", err)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return nil, fmt.Errorf("replay cursor: %w", err)
	}
	return &Replayer{log: log, dir: dir, size: size, cursor: f}, nil
}

// Close removes the replayer's images.
func (r *Replayer) Close() error {
	r.cursor.Close()
	return os.RemoveAll(r.dir)
}

// Image writes to a fresh file the device as it was after entry i (0:
// before the first entry), and returns its path. Entries are applied in
// order: i may not be below an earlier call's.
func (r *Replayer) Image(ctx context.Context, i int) (string, error) {
	if i < r.at {
		return "", fmt.Errorf("replay to entry %d: the replay is already at entry %d (ask in order)", i, r.at)
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := r.log.Apply(r.cursor, r.at, i); err != nil {
		return "", err
	}
	r.at = i
	path := filepath.Join(r.dir, "replay.img")
	if err := r.copy(ctx, path); err != nil {
		return "", fmt.Errorf("replay to entry %d: %w", i, err)
	}
	return path, nil
}

// ImageKeeping is Image(base) with, on the copy only, the entries of keep
// (each after base, in order) applied: the device after entry base and
// some of the writes that followed it, others lost.
func (r *Replayer) ImageKeeping(ctx context.Context, base int, keep []int) (string, error) {
	path, err := r.Image(ctx, base)
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	for _, i := range keep {
		if i <= base {
			return "", fmt.Errorf("replay keeping entry %d: not after entry %d", i, base)
		}
		if err := r.log.Apply(f, i-1, i); err != nil {
			return "", err
		}
	}
	return path, f.Close()
}

// copy copies the cursor to path, leaving holes where the cursor has them
// (its data extents are found with SEEK_DATA and SEEK_HOLE) and where a
// MiB of it is zeros.
func (r *Replayer) copy(ctx context.Context, path string) error {
	os.Remove(path)
	out, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	if err := out.Truncate(r.size); err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	fd := int(r.cursor.Fd())
	for off := int64(0); off < r.size; {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if err != nil {
			break // ENXIO: no data past off
		}
		end, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			end = r.size
		}
		if err := r.copyRange(ctx, out, buf, data, end); err != nil {
			return err
		}
		off = end
	}
	return out.Close()
}

// copyRange copies bytes [from, to) of the cursor to out, a MiB at a
// time, leaving out the MiBs that are all zeros.
func (r *Replayer) copyRange(ctx context.Context, out *os.File, buf []byte, from, to int64) error {
	for off := from; off < to; off += int64(len(buf)) {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := r.cursor.ReadAt(buf[:min(int64(len(buf)), to-off)], off)
		if err != nil && err != io.EOF {
			return err
		}
		if allZero(buf[:n]) {
			continue
		}
		if _, err := out.WriteAt(buf[:n], off); err != nil {
			return err
		}
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
