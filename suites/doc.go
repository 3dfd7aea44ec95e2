// Package suites holds the Ginkgo v2 suites that race the matrix. Each suite
// lives in its own directory; suites/matrix races every writer x reader
// combination of ginkgo.yml, one labelled Entry per combination, and writes
// the report from ReportAfterSuite.
package suites
