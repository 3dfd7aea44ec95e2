package examples_test

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos"
	"github.com/mapchaos/mapchaos/matchers"
	"github.com/mapchaos/mapchaos/verdicts"
	"github.com/mapchaos/mapchaos/writers"
)

func TestUpdater(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "GeoIP Updater Suite")
}

// readerBin runs the reader processes of every race; it is found (or built)
// once, by the first parallel process.
var readerBin string

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	bin, err := mapchaos.FindBinary(ctx)
	Expect(err).NotTo(HaveOccurred())
	return []byte(bin)
}, func(bin []byte) {
	readerBin = string(bin)
}, NodeTimeout(3*time.Minute))

// race races updater against reader the way our services read the
// database: a 16 MiB file, replaced by a smaller one, ten times.
func race(ctx SpecContext, updater writers.Writer, reader string) any {
	GinkgoHelper()
	result, err := mapchaos.Race(ctx, updater, mapchaos.Reader(reader),
		mapchaos.ReaderBinary(readerBin), mapchaos.Updates(10))
	Expect(err).NotTo(HaveOccurred(), "the race itself must run: an updater that fails is an error, not a verdict")
	return result
}

// Races are timing: on two cores, one at a time.
var _ = Describe("update.sh", Serial, func() {
	update := writers.Command("./update.sh", "{new}", "{target}")

	DescribeTable("keeps every service safe while it replaces the database",
		func(ctx SpecContext, reader string) {
			Expect(race(ctx, update, reader)).To(matchers.BeSafe())
		},
		Entry("the lookup API maps the database (maxminddb.Open)", "mmap"),
		Entry("the batch jobs map it and recover from faults", "mmap-recover"),
		Entry("the edge proxy reads it into memory (FromBytes)", "bytes"),
	)
})

var _ = Describe("update-in-place.sh, the updater update.sh replaced", Serial, func() {
	update := writers.Command("./update-in-place.sh", "{new}", "{target}")

	It("crashed the lookup API: cp truncates the mapped file", func(ctx SpecContext) {
		Expect(race(ctx, update, "mmap")).To(matchers.Crash())
	}, SpecTimeout(2*time.Minute))

	It("did not crash the edge proxy, but its reloads met empty or partial files", func(ctx SpecContext) {
		// A reload that reads the file while cp rewrites it fails (the proxy
		// keeps its old copy): degraded. One that spans the truncation can
		// mix both versions and still parse: corrupt. Timing decides.
		Expect(race(ctx, update, "bytes")).To(matchers.HaveVerdict(verdicts.Degraded, verdicts.Corrupt))
	}, SpecTimeout(2*time.Minute))
})
