// Package matrix runs the writer x reader matrix that a ginkgo.yml
// describes: it resolves the strategies, generates (or reuses) the fixture
// pair, races each combination with the engine in its own run directory,
// and compares each observed verdict with the expectation, giving report
// entries. The `mapchaos matrix` command and the Ginkgo suites both use it.
package matrix
