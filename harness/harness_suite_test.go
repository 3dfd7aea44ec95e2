package harness_test

import (
	"encoding/json"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/internal/testbin"
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
	bin, err := testbin.Mapchaos()
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
