package input

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// ErrTooLarge is what the error of a read past its limit wraps.
var ErrTooLarge = errors.New("input larger than its limit")

// LimitError is a read that went past its limit.
type LimitError struct {
	// Name is the path, or the name of the reader ("/dev/stdin").
	Name string
	// What the input is meant to be: "a config file (ginkgo.yml)".
	What  string
	Limit int64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s: larger than %s, the most mapchaos reads for %s", e.Name, Size(e.Limit), e.What)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *LimitError) Is(target error) bool { return target == ErrTooLarge }

// Size renders a byte count in the largest binary unit that divides it:
// "1 MiB", "64 MiB", "4 GiB", "1500 bytes".
func Size(n int64) string {
	for _, u := range []struct {
		name  string
		shift uint
	}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d %s", n>>u.shift, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// ReadFile reads the file at path, at most limit bytes; what says what it
// is meant to be, for the error past the limit. A directory is refused.
// Errors from the file system are returned as os.ReadFile returns them
// ("open PATH: no such file or directory", an *fs.PathError), so
// errors.Is(err, fs.ErrNotExist) works.
func ReadFile(ctx context.Context, path string, limit int64, what string) ([]byte, error) {
	st, err := os.Stat(path) // first: opening a FIFO would wait for a writer
	var pe *fs.PathError
	switch {
	case errors.As(err, &pe):
		return nil, &fs.PathError{Op: "open", Path: pe.Path, Err: pe.Err}
	case err != nil:
		return nil, err
	case st.IsDir():
		return nil, fmt.Errorf("%s: a directory, not %s", path, what)
	case st.Mode().IsRegular() && st.Size() > limit:
		return nil, &LimitError{Name: path, What: what, Limit: limit}
	}
	f, err := open(ctx, path, st.Mode())
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadAll(ctx, f, limit, what)
}

// open opens path for reading. Opening a FIFO waits for a writer, in the
// kernel: it waits in a goroutine, and gives up when ctx ends.
func open(ctx context.Context, path string, mode os.FileMode) (*os.File, error) {
	if mode&os.ModeNamedPipe == 0 {
		return os.Open(path)
	}
	type opened struct {
		f   *os.File
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		f, err := os.Open(path)
		ch <- opened{f, err}
	}()
	select {
	case o := <-ch:
		return o.f, o.err
	case <-ctx.Done():
		// A writer that does not wait completes the open that waits; both
		// ends are closed at once.
		if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		go func() {
			if o := <-ch; o.f != nil {
				o.f.Close()
			}
		}()
		return nil, fmt.Errorf("%s: waiting for a writer to open the FIFO: %w", path, ctx.Err())
	}
}

// ReadAll reads r to its end, at most limit bytes; what says what it is
// meant to be, for the error past the limit. When ctx ends first it returns
// an error wrapping ctx.Err() at once (see the package documentation for
// what happens to the read).
func ReadAll(ctx context.Context, r io.Reader, limit int64, what string) ([]byte, error) {
	name := "the input"
	if f, ok := r.(interface{ Name() string }); ok {
		name = f.Name()
	}
	if ctx.Done() == nil {
		return readAll(r, limit, name, what)
	}
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := readAll(r, limit, name, what)
		ch <- result{b, err}
	}()
	select {
	case res := <-ch:
		return res.b, res.err
	case <-ctx.Done():
		if d, ok := r.(interface{ SetReadDeadline(time.Time) error }); ok {
			_ = d.SetReadDeadline(time.Now()) // ends the read: the file is pollable, or the call fails
		}
		return nil, fmt.Errorf("%s: reading %s: %w", name, what, ctx.Err())
	}
}

// readAll reads at most limit+1 bytes of r.
func readAll(r io.Reader, limit int64, name, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	switch {
	case err != nil:
		return nil, err
	case int64(len(b)) > limit:
		return nil, &LimitError{Name: name, What: what, Limit: limit}
	}
	return b, nil
}
