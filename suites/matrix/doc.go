// Package matrix_test is the matrix suite: one DescribeTable whose Entries
// are the combinations of ginkgo.yml (labels writer:NAME, reader:NAME), each
// racing for real and comparing the observed verdict with the expectation.
//
//	go run github.com/onsi/ginkgo/v2/ginkgo --label-filter='writer:cp' ./suites/matrix
//
// MAPCHAOS_CONFIG names another config; MAPCHAOS_OUT another output
// directory (default mapchaos-out/suite at the repository root).
package matrix_test
