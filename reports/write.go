package reports

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"

	"github.com/mapchaos/mapchaos/internal/atomicfile"
)

// The names of the files WriteAll writes.
const (
	JSONFile     = "report.json"
	MarkdownFile = "report.md"
	HTMLFile     = "report.html"
	JUnitFile    = "junit.xml"
)

// WriteAll writes report.json, report.md, report.html and junit.xml into
// dir, creating dir if needed. Everything is rendered before anything is
// written, and each file is replaced atomically: a reader of any one file
// sees the old report or the new one, never a mixture or a torn file.
func WriteAll(dir string, r Report) error {
	js, err := JSON(r)
	if err != nil {
		return fmt.Errorf("render %s: %w", JSONFile, err)
	}
	page, err := HTML(r)
	if err != nil {
		return fmt.Errorf("render %s: %w", HTMLFile, err)
	}
	junit, err := JUnit(r)
	if err != nil {
		return fmt.Errorf("render %s: %w", JUnitFile, err)
	}
	return writeFiles(dir, []file{
		{JSONFile, js},
		{MarkdownFile, []byte(Markdown(r))},
		{HTMLFile, page},
		{JUnitFile, junit},
	})
}

// file is a name in a directory and its whole content.
type file struct {
	name string
	data []byte
}

// writeFiles creates dir if needed, replaces each file atomically, and
// then syncs dir so the renames survive a crash.
func writeFiles(dir string, files []file) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create report directory: %w", err)
	}
	for _, f := range files {
		if err := atomicfile.Write(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			return err
		}
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("sync report directory %s: %w", dir, err)
	}
	return nil
}

// syncDir fsyncs a directory, so that renames in it are durable. File
// systems and systems that cannot sync a directory are not an error.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !isSyncUnsupported(err) {
		return err
	}
	return nil
}

// isSyncUnsupported reports whether err only says that directories cannot
// be synced here.
func isSyncUnsupported(err error) bool {
	return runtime.GOOS == "windows" || errors.Is(err, syscall.EINVAL) || errors.Is(err, errors.ErrUnsupported)
}
