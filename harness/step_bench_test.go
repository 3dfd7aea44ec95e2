package harness_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/onsi/gomega/gexec"

	"github.com/mapchaos/mapchaos/config"
	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/harness"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/step"
	"github.com/mapchaos/mapchaos/writers"
)

// BenchmarkStepMatrix measures the stepped default matrix: every
// combination of the repository's ginkgo.yml (its 16 MiB shrink pair, seed
// 42), two updates per writer under ptrace, every reader probed at every
// step, and every kill point, as `mapchaos matrix --mode step` runs it
// (without writing the reports). ms/matrix is the wall time, cpu-ms/matrix
// the CPU time (user and system) of the harness and of the processes it
// started and reaped (the traced updaters): the figure that does not
// depend on what else the machine runs. probes, kill-runs and states are
// per matrix.
//
//	go test -run '^$' -bench StepMatrix -benchtime 3x ./harness
func BenchmarkStepMatrix(b *testing.B) {
	if err := step.Available(); err != nil {
		b.Skip("ptrace is not allowed here: " + err.Error())
	}
	cfg, err := config.Load(filepath.Join("..", "ginkgo.yml"))
	if err != nil {
		b.Fatal(err)
	}
	plan, err := harness.Resolve(cfg, writers.Builtin(), readers.Builtin(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	bin, err := gexec.Build("github.com/mapchaos/mapchaos/cmd/mapchaos")
	if err != nil {
		b.Fatal(err)
	}
	defer gexec.CleanupBuildArtifacts()
	pair, err := fixtures.Generate(context.Background(), cfg.Fixture.Spec(), fixtures.DefaultCacheDir())
	if err != nil {
		b.Fatal(err)
	}
	var cpu time.Duration
	var probes, kills, states int
	for b.Loop() {
		out := filepath.Join(b.TempDir(), "out")
		r := &harness.Run{Plan: plan, Pair: pair, Mode: harness.Step{Updates: 2}, Out: out, Self: bin}
		before := cpuTime()
		placed, err := r.Execute(context.Background())
		cpu += cpuTime() - before
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range placed {
			for _, res := range p.Report.Results {
				if res.Reader != plan.Combos[0].Reader.Name || res.Step == nil {
					continue // one reader per writer: the updates are shared
				}
				for _, u := range res.Step.Updates {
					probes += u.Probes
					kills += len(u.Kills)
					states += len(u.States)
				}
			}
		}
		os.RemoveAll(out)
	}
	n := float64(b.N)
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/n, "ms/matrix")
	b.ReportMetric(float64(cpu.Milliseconds())/n, "cpu-ms/matrix")
	b.ReportMetric(float64(probes)/n, "probes")
	b.ReportMetric(float64(kills)/n, "kill-runs")
	b.ReportMetric(float64(states)/n, "states")
}
