package skips_test

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
)

func TestSkips(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Skips Suite")
}

// fixture is testdata/skipsuite, a Ginkgo suite built as a plain program;
// cmd is cmd/mapchaos-skips.
var fixture, cmd string

var _ = SynchronizedBeforeSuite(func() []byte {
	f, err := gexec.Build("github.com/mapchaos/mapchaos/internal/skips/testdata/skipsuite")
	Expect(err).NotTo(HaveOccurred())
	c, err := gexec.Build("github.com/mapchaos/mapchaos/cmd/mapchaos-skips")
	Expect(err).NotTo(HaveOccurred())
	return []byte(f + "\n" + c)
}, func(b []byte) {
	var n int
	for i, c := range b {
		if c == '\n' {
			n = i
		}
	}
	fixture, cmd = string(b[:n]), string(b[n+1:])
	SetDefaultEventuallyTimeout(time.Minute)
})

var _ = SynchronizedAfterSuite(func() {}, func() { gexec.CleanupBuildArtifacts() })
