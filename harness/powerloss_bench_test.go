package harness_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/harness"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/step"
	"github.com/mapchaos/mapchaos/writers"
)

// BenchmarkPowerLoss measures one update (A->B, 16 MiB shrinking to about
// 60%) in power-loss mode per writer and model: the traced run, the crash
// states explored (at most harness.DefaultStates) and each opened by the
// mmap, mmap-recover and bytes readers. states/update is how many distinct
// states were opened, ms/update the wall time of all of it, cpu-ms/update
// the CPU time of the harness process (the figure that does not depend on
// what else the machine runs).
//
//	go test -run '^$' -bench PowerLoss -benchtime 3x ./harness
func BenchmarkPowerLoss(b *testing.B) {
	if err := step.Available(); err != nil {
		b.Skip("ptrace is not allowed here: " + err.Error())
	}
	bin, err := gexec.Build("github.com/mapchaos/mapchaos/cmd/mapchaos")
	if err != nil {
		b.Fatal(err)
	}
	defer gexec.CleanupBuildArtifacts()
	pair, err := fixtures.Generate(context.Background(), fixtures.Spec{Size: 16 << 20, Shape: fixtures.Shrink}, fixtures.DefaultCacheDir())
	if err != nil {
		b.Fatal(err)
	}
	for _, w := range []string{"rename", "rename-nofsync", "cp", "inplace"} {
		for _, model := range []string{"posix", "ext4-ordered"} {
			b.Run("16MiB/"+w+"/"+model, func(b *testing.B) { benchPowerLoss(b, bin, pair, w, model) })
		}
	}
}

func benchPowerLoss(b *testing.B, bin string, pair fixtures.Pair, writer, model string) {
	w, err := writers.Builtin().Lookup(writer)
	if err != nil {
		b.Fatal(err)
	}
	var plan harness.Plan
	for _, name := range []string{"mmap", "mmap-recover", "bytes"} {
		rd, err := readers.Builtin().Lookup(name)
		if err != nil {
			b.Fatal(err)
		}
		plan.Combos = append(plan.Combos, harness.Combo{Writer: w, Reader: rd})
	}
	plan.Config.Race.Seed = 42
	var states int
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := &harness.Run{Plan: plan, Pair: pair, Mode: harness.PowerLoss{Model: model, Updates: 1},
			Out: filepath.Join(b.TempDir(), "out"), Self: bin}
		before := cpuTime()
		placed, err := r.Execute(context.Background())
		cpu += cpuTime() - before
		if err != nil {
			b.Fatal(err)
		}
		states += placed[0].Report.Results[0].PowerLoss.Updates[0].Explored
	}
	b.ReportMetric(float64(states)/float64(b.N), "states/update")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/update")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/update")
}
