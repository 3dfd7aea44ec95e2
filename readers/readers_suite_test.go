package readers_test

import (
	"encoding/json"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/fixtures"
)

func TestReaders(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Readers Suite")
}

var pair fixtures.Pair

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	p, err := fixtures.Generate(ctx, fixtures.Spec{Size: 512 << 10, Shape: fixtures.Shrink}, fixtures.DefaultCacheDir())
	Expect(err).NotTo(HaveOccurred())
	b, _ := json.Marshal(p)
	return b
}, func(b []byte) {
	Expect(json.Unmarshal(b, &pair)).To(Succeed())
})
