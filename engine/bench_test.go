package engine_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mapchaos/mapchaos/engine"
	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/writers"
)

// BenchmarkRace measures the lookups per second one running reader reaches
// inside a real race (rename writer, 16 MiB fixture, 8 updates), for each
// reader strategy, and the wall time of one combination.
func BenchmarkRace(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "mapchaos")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/mapchaos/mapchaos/cmd/mapchaos").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	pair, err := fixtures.Generate(context.Background(), fixtures.Spec{}, fixtures.DefaultCacheDir())
	if err != nil {
		b.Fatal(err)
	}
	w, _ := writers.Builtin().Lookup("rename")
	for _, r := range readers.Builtin().All() {
		b.Run(r.Name, func(b *testing.B) {
			var rate float64
			i := 0
			for b.Loop() {
				i++
				run := filepath.Join(dir, fmt.Sprintf("%s-%d", r.Name, i))
				res, err := engine.Run(context.Background(), engine.Config{Writer: w, Reader: r, Pair: pair,
					Dir: run, ReaderCmd: []string{bin, "reader"}, Updates: 8, Seed: int64(i)})
				if err != nil {
					b.Fatal(err)
				}
				os.RemoveAll(run)
				rate += res.LookupsPerSec
			}
			b.ReportMetric(rate/float64(i), "lookups/s/reader")
		})
	}
}
