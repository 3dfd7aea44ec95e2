package step_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/step"
	"github.com/mapchaos/mapchaos/writers"
)

// TestMain lets the test binary be its own trace wrapper and writer
// program, as `mapchaos trace-wrap` and `mapchaos writer` are, and the
// helper updaters of the specs.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "trace-wrap":
			os.Exit(step.Wrap(os.Args[2:], os.Stderr))
		case "writer":
			os.Exit(step.RunWriter(context.Background(), os.Args[2:], writers.Builtin(), os.Stderr))
		case "threads":
			os.Exit(threadsMain(os.Args[2:]))
		}
	}
	os.Exit(m.Run())
}

func TestStep(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Step Suite")
}

// pairs are the fixtures of the specs: B about 60% of A, and B the size
// of A.
type pairs struct {
	Shrink, Same fixtures.Pair
}

var fx pairs

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	var p pairs
	var err error
	p.Shrink, err = fixtures.Generate(ctx, fixtures.Spec{Size: 512 << 10, Shape: fixtures.Shrink}, fixtures.DefaultCacheDir())
	Expect(err).NotTo(HaveOccurred())
	p.Same, err = fixtures.Generate(ctx, fixtures.Spec{Size: 512 << 10, Shape: fixtures.Same}, fixtures.DefaultCacheDir())
	Expect(err).NotTo(HaveOccurred())
	b, err := json.Marshal(p)
	Expect(err).NotTo(HaveOccurred())
	return b
}, func(b []byte) {
	Expect(json.Unmarshal(b, &fx)).To(Succeed())
}, NodeTimeout(3*time.Minute))
