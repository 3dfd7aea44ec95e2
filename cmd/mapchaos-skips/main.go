package main

import (
	"fmt"
	"io"
	"os"

	"github.com/mapchaos/mapchaos/internal/skips"
)

const usage = `usage: mapchaos-skips REPORT.json
  lists the specs a Ginkgo run skipped (ginkgo --json-report=REPORT.json), with their reasons;
  under CI (CI set) exits 1 when a reason is not on the allowlist of internal/skips`

func main() { os.Exit(run(os.Args[1:], os.Getenv("CI") != "", os.Stdout, os.Stderr)) }

func run(args []string, ci bool, stdout, stderr io.Writer) int {
	if len(args) != 1 || len(args[0]) == 0 || args[0][0] == '-' {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	reps, err := skips.Read(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "mapchaos-skips: %v\n", err)
		return 2
	}
	s := skips.Summarize(reps, skips.Allowlist)
	if err := s.Write(stdout); err != nil {
		fmt.Fprintf(stderr, "mapchaos-skips: %v\n", err)
		return 2
	}
	if n := s.Refused(); n > 0 && ci {
		fmt.Fprintf(stderr, "mapchaos-skips: CI: %d spec(s) skipped for a reason the allowlist does not name (internal/skips): fix the machine or the spec\n", n)
		return 1
	}
	return 0
}
