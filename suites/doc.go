// Package suites holds the Ginkgo v2 suites that race real combinations.
// Each suite lives in its own directory: suites/matrix races every writer x
// reader combination of ginkgo.yml, one labelled Entry per combination, and
// writes the report from ReportAfterSuite; suites/tools checks real updaters
// (cp, mv, rsync, install, ln) through `mapchaos check`, raced and stepped.
package suites
