// Package testbin gives the suites the mapchaos executable their specs run
// (reader children, writer processes, the CLI itself).
package testbin

import (
	"os"

	"github.com/onsi/gomega/gexec"
)

// Mapchaos returns $MAPCHAOS_BIN when it is set (a prebuilt binary: the
// arm64 guest of `make test-arm64` has no Go toolchain), else the CLI built
// by gexec; a suite that calls it removes the build with
// gexec.CleanupBuildArtifacts.
func Mapchaos() (string, error) {
	if p := os.Getenv("MAPCHAOS_BIN"); p != "" {
		return p, nil
	}
	return gexec.Build("github.com/mapchaos/mapchaos/cmd/mapchaos")
}
