package pages_test

import (
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// TestMain lets the test binary be the reader that touches the mapping
// (touchMain): its death by SIGBUS is the evidence.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "pages-touch" {
		os.Exit(touchMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

func TestPages(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Pages Suite")
}
