package harness

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mapchaos/mapchaos/reports"
)

// OutMarker marks a directory as a mapchaos output directory, which a
// later run may clear and reuse.
const OutMarker = ".mapchaos-out"

// ours are the names mapchaos writes or clears in an output directory.
var ours = []string{"runs", reports.JSONFile, reports.MarkdownFile, reports.HTMLFile, reports.JUnitFile}

// PrepareOut makes sure dir can hold a run's output and is writable. A
// run replaces report files and clears runs/: where any of those exist
// already, dir must be the output of an earlier run (marked), so that a
// user's own files of those names are never overwritten. Other files
// (such as the suites' subdirectories) are left alone. Bad directories are
// an *InputError.
func PrepareOut(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return Badf("--out %s: cannot use it as the output directory: %v", dir, err)
	case !st.IsDir():
		return Badf("--out %s: cannot use it as the output directory: not a directory", dir)
	default:
		if _, err := os.Stat(filepath.Join(dir, OutMarker)); err != nil {
			for _, name := range ours {
				if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
					return Badf("--out %s: it holds %s, which mapchaos would replace, but was not made by mapchaos (no %s file): choose a new or empty directory", dir, name, OutMarker)
				}
			}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Badf("--out %s: cannot create it: %v", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, OutMarker), []byte("made by mapchaos; a later run may clear runs/ and replace the reports here\n"), 0o644); err != nil {
		return Badf("--out %s: not writable: %v", dir, err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "runs")); err != nil {
		return fmt.Errorf("clear %s: %w", filepath.Join(dir, "runs"), err)
	}
	return nil
}
