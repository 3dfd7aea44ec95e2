// Package atomicfile replaces a file whole: a reader of the path sees the
// old content or the new one, never a mixture, and a failed write leaves
// the old file as it was.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Write writes data to a temporary file beside path (mode perm), syncs and
// closes it, and renames it over path. On failure the temporary file is
// removed and path is left as it was.
func Write(path string, data []byte, perm os.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	half := len(data) / 2
	if _, err := tmp.Write(data[:half]); err != nil {
		return err
	}
	hold(path)
	if _, err := tmp.Write(data[half:]); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// holdEnv is empty in mapchaos. The interrupt specs of cmd/mapchaos link a
// binary with it set (-ldflags -X ...atomicfile.holdEnv=NAME) to interrupt
// a run at the worst moment of writing a report: $NAME is "DIR:BASE", and
// Write of a file named BASE stops half way through its temporary file,
// creates DIR/held, and goes on once DIR/release exists (or after a
// minute).
var holdEnv string

// hold is the pause holdEnv asks for, if any.
func hold(path string) {
	if holdEnv == "" {
		return
	}
	v := os.Getenv(holdEnv)
	i := strings.LastIndexByte(v, ':')
	if i < 0 || filepath.Base(path) != v[i+1:] {
		return
	}
	dir := v[:i]
	if os.WriteFile(filepath.Join(dir, "held"), []byte(path), 0o644) != nil {
		return
	}
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "release")); err == nil {
			return
		}
	}
}
