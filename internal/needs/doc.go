// Package needs ends a spec that needs a program the machine lacks: under CI
// (CI set) the spec fails, since CI must have installed every Debian package
// the suites use (scripts/deps, run by make test); elsewhere it is skipped
// with a message that names the Debian package, and make test lists it at
// the end of the run (cmd/mapchaos-skips).
//
// Every message starts with MissingPrefix, so that a skip for a missing tool
// can be told apart from a skip for a reason no package can fix.
package needs
