package readers_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/readers"
)

// BenchmarkLookup measures lookups per second of each reader strategy on
// the default 16 MiB fixture, outside any race: the ceiling a reader can
// reach inside one.
func BenchmarkLookup(b *testing.B) {
	p, err := fixtures.Generate(context.Background(), fixtures.Spec{}, fixtures.DefaultCacheDir())
	if err != nil {
		b.Fatal(err)
	}
	for _, reg := range readers.Builtin().All() {
		b.Run(reg.Name, func(b *testing.B) {
			db, err := reg.Strategy.Open(p.A)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			rng := rand.New(rand.NewPCG(1, 2))
			b.ResetTimer()
			for b.Loop() {
				var rec fixtures.Record
				ip := p.Universe.Sample(rng)
				found, err := db.Lookup(ip, &rec)
				if err != nil || p.Universe.Verify(ip, rec, found) != nil {
					b.Fatalf("lookup %s: %v", ip, err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
		})
	}
}
