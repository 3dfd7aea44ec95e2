package engine_test

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

func TestEngine(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Engine Suite")
}

type shared struct {
	Bin  string
	Pair fixtures.Pair
	// Typed are GeoIP2-shaped pairs by fixture kind (City, Enterprise), for
	// the geoip2-golang readers.
	Typed map[string]fixtures.Pair
}

var env shared

// Process 1 builds the real mapchaos binary (its `reader` subcommand is the
// reader child) and a small real fixture pair; every process shares them.
var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	bin, err := testbin.Mapchaos()
	Expect(err).NotTo(HaveOccurred())
	pair, err := fixtures.Generate(ctx, fixtures.Spec{Size: 2 << 20, Shape: fixtures.Shrink}, fixtures.DefaultCacheDir())
	Expect(err).NotTo(HaveOccurred())
	typed := map[string]fixtures.Pair{}
	for _, kind := range []string{fixtures.KindCity, fixtures.KindEnterprise} {
		typed[kind], err = fixtures.Generate(ctx, fixtures.Spec{Size: 2 << 20, Shape: fixtures.Shrink, Kind: kind}, fixtures.DefaultCacheDir())
		Expect(err).NotTo(HaveOccurred())
	}
	b, err := json.Marshal(shared{Bin: bin, Pair: pair, Typed: typed})
	Expect(err).NotTo(HaveOccurred())
	return b
}, func(b []byte) {
	Expect(json.Unmarshal(b, &env)).To(Succeed())
}, NodeTimeout(3*time.Minute))

var _ = SynchronizedAfterSuite(func() {}, func() { gexec.CleanupBuildArtifacts() })
