package main

import (
	"fmt"
	"text/tabwriter"
)

// list prints the registered writers and readers, sorted.
func (a *app) list(args []string) error {
	if isHelp(args) {
		fmt.Fprintln(a.stdout, "Usage: mapchaos list (prints the built-in writers and readers; takes no argument)")
		return nil
	}
	if len(args) > 0 {
		return usagef("list takes no arguments, got %q", args)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WRITERS\tATOMIC\tTARGET\tWHAT IT DOES")
	for _, w := range a.writers.All() {
		target := "file"
		if w.SymlinkTarget {
			target = "symlink"
		}
		fmt.Fprintf(tw, "%s\t%v\t%s\t%s\n", w.Name, w.Atomic, target, w.Summary)
	}
	fmt.Fprintln(tw, "exec\t?\tfile|symlink\tyour own updater: mapchaos check --writer-cmd 'PROG {new} {target}'")
	fmt.Fprintln(tw, "\t\t\t")
	fmt.Fprintln(tw, "READERS\tMAPPED\tRECOVERS\tWHAT IT DOES")
	for _, r := range a.readers.All() {
		fmt.Fprintf(tw, "%s\t%v\t%v\t%s\n", r.Name, r.Mapped, r.PanicOnFault, r.Summary)
	}
	fmt.Fprintln(tw, "exec\t?\t?\ta foreign reader over the line protocol: mapchaos check --reader-cmd 'PROG {target}'")
	return tw.Flush()
}
