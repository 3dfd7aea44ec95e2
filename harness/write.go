package harness

import (
	"fmt"
	"path/filepath"

	"github.com/mapchaos/mapchaos/reports"
)

// Write writes each placed report into its directory. Where there are
// several (a guest's ext4 and tmpfs runs), the first is also written into
// out, and all side by side into out/by-fs.
func Write(out string, placed []Placed) error {
	for _, p := range placed {
		if err := reports.WriteAll(p.Dir, p.Report); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	if len(placed) < 2 {
		return nil
	}
	if err := reports.WriteAll(out, placed[0].Report); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	var reps []reports.Report
	var labels []string
	for _, p := range placed {
		reps = append(reps, p.Report)
		labels = append(labels, p.Report.Run.GOARCH+" "+p.Label)
	}
	m, err := reports.Merge(reps, labels)
	if err == nil {
		err = reports.WriteMerged(filepath.Join(out, "by-fs"), m)
	}
	if err != nil {
		return fmt.Errorf("write the comparison of %s: %w", labels, err)
	}
	return nil
}
