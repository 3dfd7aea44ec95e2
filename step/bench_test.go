package step_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/step"
	"github.com/mapchaos/mapchaos/writers"
)

// BenchmarkUpdate compares one update (A->B, B about 60% of A) by a
// built-in writer run as its own process: plain, stepped (probes at every
// state-changing call and exponentially spaced writes, the mmap,
// mmap-recover and bytes readers probed at each), stepped with a probe
// after every write, and stepped with its kill points. Each op includes
// laying out the target (the same for every mode); update-ms is the update
// alone (for stepped modes, the traced run with its probes); probes and
// stops are per stepped run.
//
//	go test -run '^$' -bench 'Update/16MiB' ./step
//	go test -run '^$' -bench 'Update/256MiB' -benchtime 1x -timeout 60m ./step
func BenchmarkUpdate(b *testing.B) {
	for _, size := range []int64{16 << 20, 256 << 20} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			pair, err := fixtures.Generate(context.Background(), fixtures.Spec{Size: size, Shape: fixtures.Shrink}, fixtures.DefaultCacheDir())
			if err != nil {
				b.Fatal(err)
			}
			for _, w := range []string{"cp", "inplace", "rename"} {
				for _, mode := range []string{"plain", "stepped", "every-write", "kills"} {
					if mode == "every-write" && w != "inplace" {
						continue // one copy_file_range: nothing more to probe
					}
					b.Run(w+"/"+mode, func(b *testing.B) { benchUpdate(b, pair, w, mode) })
				}
			}
		})
	}
}

func benchUpdate(b *testing.B, pair fixtures.Pair, name, mode string) {
	s, err := writers.Builtin().Lookup(name)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	data := filepath.Join(dir, "data")
	target := filepath.Join(data, "db.mmdb")
	prepare := func(context.Context) error {
		if err := os.RemoveAll(data); err != nil {
			return err
		}
		if err := os.MkdirAll(data, 0o755); err != nil {
			return err
		}
		return writers.Install(target, pair.A, s.Properties)
	}
	argv := append([]string{os.Args[0], "writer"}, step.WriterArgs(name, pair.B, target, 1)...)
	var regs []readers.Registration
	for _, n := range []string{"mmap", "mmap-recover", "bytes"} {
		r, _ := readers.Builtin().Lookup(n)
		regs = append(regs, r)
	}
	var update time.Duration
	var probes, stops, kills int
	b.SetBytes(pair.SizeB)
	for b.Loop() {
		if mode == "plain" {
			if err := prepare(context.Background()); err != nil {
				b.Fatal(err)
			}
			began := time.Now()
			if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
			update += time.Since(began)
			continue
		}
		seq, err := step.Run(context.Background(), step.Config{Argv: argv, Wrapper: wrapper(), Target: target,
			Old: pair.A, New: pair.B, OldName: "A", NewName: "B", Prepare: prepare, Readers: regs,
			Oracle: pair.Universe, Seed: 1, ProbeEveryWrite: mode == "every-write", NoKills: mode != "kills"})
		if err != nil {
			b.Fatal(err)
		}
		if seq.Exit != "exit 0" {
			b.Fatalf("%s: %s", seq.Exit, seq.Output)
		}
		update += seq.Duration
		probes += seq.Probes
		stops += seq.Stops
		kills += len(seq.Kills)
	}
	n := float64(b.N)
	b.ReportMetric(float64(update.Milliseconds())/n, "update-ms")
	if mode != "plain" {
		b.ReportMetric(float64(probes)/n, "probes")
		b.ReportMetric(float64(stops)/n, "stops")
	}
	if mode == "kills" {
		b.ReportMetric(float64(kills)/n, "kill-runs")
	}
}
