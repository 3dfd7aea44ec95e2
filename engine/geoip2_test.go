package engine_test

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/engine"
	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/matchers"
)

var _ = Describe("geoip2-golang (v1 and v2) typed lookups on a GeoIP2 fixture of their kind", func() {
	DescribeTable("die under cp with the frames a production trace shows",
		func(ctx SpecContext, reader, kind, lib, call string) {
			cfg := config("cp", reader)
			cfg.Pair = env.Typed[kind]
			res, err := engine.Run(ctx, cfg)
			Expect(err).NotTo(HaveOccurred())
			Expect(res).To(matchers.Crash())
			Expect(res.Evidence.Code).To(Equal("BUS_ADRERR"))
			// The whole stderr of the reader that died: where the fault
			// lands (memmove, memequal ...) decides how deep the frame is.
			// The first to die may be a running reader in a typed lookup,
			// or a starting reader opening the file mid-rewrite (the
			// library's Open scans the mapping for its metadata): both are
			// what a production trace of that library shows.
			stderr, err := os.ReadFile(filepath.Join(cfg.Dir, "readers", res.Evidence.Reader+".stderr"))
			Expect(err).NotTo(HaveOccurred())
			Expect(string(stderr)).To(Or(ContainSubstring(lib+".(*Reader)."+call), ContainSubstring(lib+".Open")))
		},
		Entry("City", "geoip2-city", fixtures.KindCity, "github.com/oschwald/geoip2-golang", "City"),
		Entry("Enterprise", "geoip2-enterprise", fixtures.KindEnterprise, "github.com/oschwald/geoip2-golang", "Enterprise"),
		Entry("v2 City", "geoip2-v2-city", fixtures.KindCity, "github.com/oschwald/geoip2-golang/v2", "City"),
		Entry("v2 Enterprise", "geoip2-v2-enterprise", fixtures.KindEnterprise, "github.com/oschwald/geoip2-golang/v2", "Enterprise"),
	)

	DescribeTable("are safe under symlink-swap, every typed answer checked",
		func(ctx SpecContext, reader, kind string) {
			cfg := config("symlink-swap", reader)
			cfg.Pair = env.Typed[kind]
			res, err := engine.Run(ctx, cfg)
			Expect(err).NotTo(HaveOccurred())
			Expect(res).To(matchers.BeSafe())
			Expect(res.Answers.Right).To(Equal(res.Lookups))
			Expect(res.Lookups).To(BeNumerically(">", 1000))
		},
		Entry("City", "geoip2-city", fixtures.KindCity),
		Entry("Enterprise", "geoip2-enterprise", fixtures.KindEnterprise),
		Entry("v2 City", "geoip2-v2-city", fixtures.KindCity),
		Entry("v2 Enterprise", "geoip2-v2-enterprise", fixtures.KindEnterprise),
	)
})
