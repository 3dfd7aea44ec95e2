// Package mapchaos is a chaos-testing harness for programs that read
// memory-mapped files: it races updaters (writers) against readers in real
// processes and reports which combinations crash, and how.
//
// Layout: cmd/mapchaos is the CLI; engine races one writer x reader;
// matrix runs the combinations of ginkgo.yml (config); writers/ and
// readers/ hold the strategies; fixtures/ generates self-checking .mmdb
// pairs; crashes/ reads crash traces; reports/ writes report.json/.md/.html
// and junit.xml; matchers/ holds Gomega matchers; suites/ the Ginkgo suites.
package mapchaos
