package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/mapchaos/mapchaos/reports"
)

// reportUsage is the usage of `mapchaos report`.
const reportUsage = "Usage: mapchaos report merge A/report.json B/report.json [...] --out DIR [--labels a,b] (mapchaos report merge -h for its flags)"

// report runs `mapchaos report ...` and returns the exit status: 0 the
// runs agree, 1 a verdict differs. Bad input is a usageError (exit 2).
func (a *app) report(ctx context.Context, args []string) (int, error) {
	if isHelp(args) {
		fmt.Fprintln(a.stdout, reportUsage)
		return exitOK, nil
	}
	if len(args) == 0 || args[0] != "merge" {
		got := "nothing"
		if len(args) > 0 {
			got = fmt.Sprintf("%q", args[0])
		}
		return 0, usagef("want a subcommand: merge (mapchaos report merge A/report.json B/report.json --out DIR), got %s", got)
	}
	var out, labels string
	fs := flag.NewFlagSet("mapchaos report merge", flag.ContinueOnError)
	fs.StringVar(&out, "out", "", "directory for merged.md and merged.html (required)")
	fs.StringVar(&labels, "labels", "", "comma-separated names of the reports, in order (default: their architectures)")
	files, err := parseInterleaved(fs, args[1:], a.stdout, a.stderr)
	if err != nil {
		return 0, err
	}
	switch {
	case len(files) < 2:
		return 0, usagef("merge needs at least two reports, got %d: mapchaos report merge A/report.json B/report.json --out DIR", len(files))
	case out == "":
		return 0, usagef("merge needs --out DIR, the directory for merged.md and merged.html")
	}
	var names []string
	if labels != "" {
		names = splitList(labels)
		if len(names) != len(files) {
			return 0, usagef("--labels %q names %d reports, but %d were given", labels, len(names), len(files))
		}
	}
	var rs []reports.Report
	var errs []error
	for _, f := range files {
		r, err := reports.ReadContext(ctx, f)
		if err != nil {
			errs = append(errs, inputError(f, err))
			continue
		}
		rs = append(rs, r)
	}
	if err := errors.Join(errs...); err != nil {
		return 0, usageError{err}
	}
	m, err := reports.Merge(rs, names)
	if err != nil {
		return 0, usageError{err}
	}
	if err := reports.WriteMerged(out, m); err != nil {
		return 0, fmt.Errorf("write the merged report: %w", err)
	}
	differ := printMerged(a.stdout, m)
	fmt.Fprintf(a.stdout, "\nmerged: %s, %s\n", filepath.Join(out, reports.MergedMarkdownFile), filepath.Join(out, reports.MergedHTMLFile))
	if differ > 0 {
		fmt.Fprintf(a.stdout, "%d of %d combinations differ between the runs\n", differ, len(m.Rows))
		return exitFailed, nil
	}
	fmt.Fprintf(a.stdout, "the runs agree on all %d combinations\n", len(m.Rows))
	return exitOK, nil
}

// inputError names the input in a reading error, once.
func inputError(path string, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: no such file", path)
	}
	return err
}

// printMerged prints the merged matrix: a row per combination, a column
// per run, ≠ where the verdicts differ. It returns how many differ.
func printMerged(w io.Writer, m reports.Merged) int {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "writer\treader")
	for _, l := range m.Labels {
		fmt.Fprint(tw, "\t"+l)
	}
	fmt.Fprintln(tw, "\t")
	differ := 0
	for _, row := range m.Rows {
		fmt.Fprintf(tw, "%s\t%s", row.Writer, row.Reader)
		for _, e := range row.Cells {
			switch {
			case e == nil:
				fmt.Fprint(tw, "\t-")
			case !e.Met:
				fmt.Fprintf(tw, "\t%s (expected %s)", e.Verdict, orNone(e.Expected))
			default:
				fmt.Fprintf(tw, "\t%s", e.Verdict)
			}
		}
		mark := ""
		if row.Differs {
			mark = "≠ differs"
			differ++
		}
		fmt.Fprintf(tw, "\t%s\n", mark)
	}
	tw.Flush()
	return differ
}
