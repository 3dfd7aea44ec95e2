package tools_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/internal/testbin"
)

func TestTools(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Real Tools Suite")
}

// shared is what process 1 prepares for every parallel process.
type shared struct {
	Bin string
}

var (
	env    shared
	outDir string
)

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	bin, err := testbin.Mapchaos()
	Expect(err).NotTo(HaveOccurred())
	// Generate (or find) the default fixture once, so no spec pays for it.
	_, err = fixtures.Generate(ctx, fixtures.Spec{}, fixtures.DefaultCacheDir())
	Expect(err).NotTo(HaveOccurred())
	b, err := json.Marshal(shared{Bin: bin})
	Expect(err).NotTo(HaveOccurred())
	return b
}, func(b []byte) {
	Expect(json.Unmarshal(b, &env)).To(Succeed())
	outDir = os.Getenv("MAPCHAOS_OUT")
	if outDir == "" {
		outDir = filepath.Join("..", "..", "mapchaos-out", "tools")
	}
	var err error
	outDir, err = filepath.Abs(outDir)
	Expect(err).NotTo(HaveOccurred())
	SetDefaultEventuallyTimeout(3 * time.Minute)
}, NodeTimeout(5*time.Minute))

var _ = SynchronizedAfterSuite(func() {}, func() { gexec.CleanupBuildArtifacts() })
