package main_test

import (
	"os"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/internal/testbin"
)

func TestMapchaos(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "mapchaos CLI Suite")
}

// bin is mapchaos; holdBin is mapchaos linked so that $holdEnv can stop
// it half way through writing a file (internal/atomicfile's holdEnv).
var bin, holdBin string

const holdEnv = "MAPCHAOS_TEST_HOLD"

var _ = SynchronizedBeforeSuite(func() []byte {
	// The hold-linked binary needs a Go toolchain; the arm64 guest of make
	// test-arm64 has none: it gives a prebuilt $MAPCHAOS_BIN and
	// $MAPCHAOS_HOLD_BIN. With only the first, the specs that use the
	// second skip.
	h := os.Getenv("MAPCHAOS_HOLD_BIN")
	if os.Getenv("MAPCHAOS_BIN") == "" {
		var err error
		h, err = gexec.Build("github.com/mapchaos/mapchaos/cmd/mapchaos", "-ldflags", "-X github.com/mapchaos/mapchaos/internal/atomicfile.holdEnv="+holdEnv)
		Expect(err).NotTo(HaveOccurred())
		Expect(os.Rename(h, h+"-hold")).To(Succeed()) // gexec builds both at the same path
		h += "-hold"
	}
	b, err := testbin.Mapchaos()
	Expect(err).NotTo(HaveOccurred())
	return []byte(b + "\n" + h)
}, func(b []byte) {
	bin, holdBin, _ = strings.Cut(string(b), "\n")
	SetDefaultEventuallyTimeout(2 * time.Minute)
})

var _ = SynchronizedAfterSuite(func() {}, func() { gexec.CleanupBuildArtifacts() })
