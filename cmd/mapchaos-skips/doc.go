// Command mapchaos-skips prints the specs a Ginkgo run skipped, with the
// reason of each, from the run's JSON report; make test runs it last:
//
//	mapchaos-skips mapchaos-out/suites.json
//
// It prints "skipped specs: N" and one entry per skipped spec. Under CI (CI
// set in the environment) it exits 1 when a spec was skipped for a reason
// that internal/skips' allowlist does not name (a missing tool, a matrix
// combination without an expectation ...); otherwise it exits 0. A missing
// or unreadable report, or a wrong argument: exit 2.
package main
