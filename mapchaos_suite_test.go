package mapchaos_test

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/internal/testbin"
)

func TestMapchaos(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "mapchaos Suite")
}

// bin is the mapchaos executable the races start reader children from.
var bin string

var _ = SynchronizedBeforeSuite(func() []byte {
	b, err := testbin.Mapchaos()
	Expect(err).NotTo(HaveOccurred())
	return []byte(b)
}, func(b []byte) {
	bin = string(b)
	SetDefaultEventuallyTimeout(time.Minute)
})

var _ = SynchronizedAfterSuite(func() {}, func() { gexec.CleanupBuildArtifacts() })
