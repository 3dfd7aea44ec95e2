package harness

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mapchaos/mapchaos/internal/atomicfile"
	"github.com/mapchaos/mapchaos/reports"
)

// OutMarker marks a directory as a mapchaos output directory. It lists
// the names in the directory that mapchaos writes, and so may replace or
// remove in a later run; nothing else in the directory is mapchaos's.
const OutMarker = ".mapchaos-out"

// markerHead is the first line of OutMarker; the names follow, one a line.
const markerHead = "made by mapchaos: a later run may replace or remove the names below, and nothing else here"

// OutNames are the names a run writes in its output directory: the run
// directories, the reports, and an arm64 run's report per file system and
// their comparison; runs.kept is where a --fs run copies runs/ back.
var OutNames = []string{"runs", "runs.kept", reports.JSONFile, reports.MarkdownFile, reports.HTMLFile, reports.JUnitFile, "ext4", "tmpfs", "by-fs"}

// PrepareOut makes dir a run's output directory, or refuses it (an
// *InputError) so that no file of the user's is ever replaced or removed.
// dir may be new or empty, an earlier run's output (its OutMarker names
// everything else in it), or a directory that holds only such outputs
// (mapchaos-out with check/ and suite/ in it); anything else in it is
// refused, the current directory included. PrepareOut then marks dir,
// removes what the earlier run left that this one replaces (runs/, and
// report files half written when a run was killed), and checks that dir
// is writable.
func PrepareOut(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return Badf("--out %s: cannot use it as the output directory: %v", dir, err)
	case !st.IsDir():
		return Badf("--out %s: cannot use it as the output directory: not a directory", dir)
	default:
		foreign, err := notOurs(dir)
		if err != nil {
			return Badf("--out %s: cannot read it: %v", dir, err)
		}
		if len(foreign) > 0 {
			return Badf("--out %s: it holds %s, which mapchaos did not write; mapchaos writes only into a new or empty directory, or one an earlier mapchaos run wrote (marked by %s), so that no file of yours is replaced or removed: choose a new directory, e.g. --out %s",
				dir, listed(foreign), OutMarker, suggest(dir))
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Badf("--out %s: cannot create it: %v", dir, err)
	}
	if err := atomicfile.Write(filepath.Join(dir, OutMarker), []byte(markerHead+"\n"+strings.Join(OutNames, "\n")+"\n"), 0o644); err != nil {
		return Badf("--out %s: not writable: %v", dir, err)
	}
	return clearOurs(dir)
}

// notOurs lists what dir holds that mapchaos did not write.
func notOurs(dir string) ([]string, error) {
	names, marked, err := manifest(dir)
	if err != nil {
		return nil, err
	}
	if !marked && legacyOutput(dir) {
		names, marked = legacyNames(), true
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var foreign []string
	for _, e := range ents {
		name := e.Name()
		switch {
		case name == OutMarker || marked && halfWritten(name):
		case marked && names[name] && name == "runs":
			foreign = append(foreign, runsNotOurs(filepath.Join(dir, name))...)
		case marked && names[name]:
		case e.IsDir() && onlyOutputs(filepath.Join(dir, name), 3):
		default:
			foreign = append(foreign, name)
		}
	}
	return foreign, nil
}

// manifest reads the names dir's OutMarker lists; marked is false when
// there is no marker. A marker of an older mapchaos (no list) names what
// those runs wrote.
func manifest(dir string) (names map[string]bool, marked bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, OutMarker))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	names = map[string]bool{}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if lines[0] != markerHead {
		return legacyNames(), true, nil
	}
	for _, l := range lines[1:] {
		if l = strings.TrimSpace(l); l != "" && l != "." && l != ".." && !strings.Contains(l, "/") {
			names[l] = true
		}
	}
	return names, true, nil
}

// legacyNames are what runs wrote before OutMarker listed names.
func legacyNames() map[string]bool {
	return map[string]bool{"runs": true, reports.JSONFile: true, reports.MarkdownFile: true, reports.HTMLFile: true, reports.JUnitFile: true}
}

// legacyOutput reports whether dir, unmarked, is the output of a mapchaos
// from before the marker (the suites' directories were not marked): it
// holds only the report files and runs/, and its report.json reads as a
// mapchaos report.
func legacyOutput(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if !legacyNames()[e.Name()] {
			return false
		}
	}
	p := filepath.Join(dir, reports.JSONFile)
	if st, err := os.Stat(p); err != nil || st.Size() > 64<<20 {
		return false
	}
	_, err = reports.Read(p)
	return err == nil
}

// halfWritten reports whether name is the temporary file of a report
// that a killed run was writing (internal/atomicfile's naming).
func halfWritten(name string) bool {
	for _, n := range []string{reports.JSONFile, reports.MarkdownFile, reports.HTMLFile, reports.JUnitFile, OutMarker} {
		if strings.HasPrefix(name, "."+n+".tmp-") {
			return true
		}
	}
	return false
}

// runsNotOurs lists what runs/ holds that is not a run directory of a
// combination (<writer>_x_<reader>, <writer>_step, <writer>_power-loss)
// or its updater log.
func runsNotOurs(runs string) []string {
	ents, err := os.ReadDir(runs)
	if err != nil {
		return []string{"runs (" + err.Error() + ")"}
	}
	var foreign []string
	for _, e := range ents {
		n := e.Name()
		combo := strings.Contains(n, "_x_") || strings.HasSuffix(n, "_step") || strings.HasSuffix(n, "_power-loss")
		if e.IsDir() && combo || !e.IsDir() && combo && strings.HasSuffix(n, ".writer.log") {
			continue
		}
		foreign = append(foreign, filepath.Join("runs", n))
	}
	return foreign
}

// onlyOutputs reports whether dir is a mapchaos output (marked), or holds
// nothing but such outputs and empty directories, depth levels down.
func onlyOutputs(dir string, depth int) bool {
	if _, err := os.Lstat(filepath.Join(dir, OutMarker)); err == nil {
		return true
	}
	ents, err := os.ReadDir(dir)
	if err != nil || depth == 0 && len(ents) > 0 {
		return false
	}
	for _, e := range ents {
		if !e.IsDir() || !onlyOutputs(filepath.Join(dir, e.Name()), depth-1) {
			return false
		}
	}
	return true
}

// clearOurs removes what an earlier run in dir left that this run
// replaces: runs/ (and runs.kept/ of a --fs run cut short) and
// half-written reports.
func clearOurs(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return Badf("--out %s: cannot read it: %v", dir, err)
	}
	for _, e := range ents {
		if e.Name() == "runs" || e.Name() == "runs.kept" || halfWritten(e.Name()) {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("clear %s: %w", filepath.Join(dir, e.Name()), err)
			}
		}
	}
	return nil
}

// listed names up to five entries, and how many more there are.
func listed(names []string) string {
	if len(names) <= 5 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:5], ", "), len(names)-5)
}

// suggest is an output directory to propose instead of dir.
func suggest(dir string) string {
	for _, name := range []string{"mapchaos-out", "mapchaos-out-2", "mapchaos-out-3"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return p
		}
		if foreign, err := notOurs(p); err == nil && len(foreign) == 0 {
			return p
		}
	}
	return "a new directory"
}

// freshDir makes the run directory dir (and its parents), which must not
// exist or be empty: a run removes only what it made (PrepareOut clears
// runs/ of an earlier run's output), never a directory it finds full.
func freshDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("run directory: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("run directory: %w", err)
	}
	if len(ents) > 0 {
		return Badf("run directory %s holds %s already: mapchaos removes only what it made; give a new or empty directory", dir, ents[0].Name())
	}
	return nil
}
