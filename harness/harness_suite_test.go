package harness_test

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/fixtures"
)

func TestHarness(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Harness Suite")
}

type shared struct {
	Bin  string
	Pair fixtures.Pair
}

var env shared

// Process 1 builds the real mapchaos binary (reader children, writer
// processes and the trace wrapper are it) and a small real pair.
var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	bin, err := mapchaosBin()
	Expect(err).NotTo(HaveOccurred())
	pair, err := fixtures.Generate(ctx, fixtures.Spec{Size: 1 << 20, Shape: fixtures.Shrink}, fixtures.DefaultCacheDir())
	Expect(err).NotTo(HaveOccurred())
	b, err := json.Marshal(shared{Bin: bin, Pair: pair})
	Expect(err).NotTo(HaveOccurred())
	return b
}, func(b []byte) {
	Expect(json.Unmarshal(b, &env)).To(Succeed())
}, NodeTimeout(3*time.Minute))

var _ = SynchronizedAfterSuite(func() {}, func() { gexec.CleanupBuildArtifacts() })

// mapchaosBin is $MAPCHAOS_BIN when set (a prebuilt binary: the arm64 guest
// of `make test-arm64` has no Go toolchain), else the CLI built by gexec.
func mapchaosBin() (string, error) {
	if p := os.Getenv("MAPCHAOS_BIN"); p != "" {
		return p, nil
	}
	return gexec.Build("github.com/mapchaos/mapchaos/cmd/mapchaos")
}
