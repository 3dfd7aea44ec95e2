// Package suites holds the Ginkgo v2 suites that race real combinations.
// Each suite lives in its own directory: suites/matrix races every writer x
// reader combination of ginkgo.yml, one labelled Entry per combination, and
// writes the report from ReportAfterSuite; suites/tools checks real updaters
// (cp, mv, rsync, install, ln) through `mapchaos check`, raced and stepped;
// suites/pages shows what a mapped file's reader sees past the end after a
// truncation, on the running kernel's page size (4 or 16 KiB in the arm64
// guests).
package suites
