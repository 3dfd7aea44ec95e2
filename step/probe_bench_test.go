package step

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/readers"
)

// BenchmarkProbe measures one probe at 16 MiB: what step mode does at each
// stop of the updater, with the mmap, mmap-recover and bytes readers: the
// target summed page by page against both versions, the mapping made
// before the update checked for faults and changes, each reader's lookups
// through what it opened before the update (running), and each reader
// opening the target as it is now and looking up (starting), every answer
// judged. The states are those of an in-place update (rsync --inplace)
// from A to B (B about 60% of A), as step mode probes them: B's first
// 256 KiB, 512 KiB, 1 MiB ... written over A, all of B over A, then the
// file truncated to B; and those of cp: an empty file, then the whole of
// B. No state repeats, so no probe reuses an earlier one's outcomes.
// Each iteration probes the states with eight sets of lookup IPs
// (probeSeeds). ms/probe is the wall time per probe over all of them,
// median-seed-ms/probe and worst-seed-ms/probe the same for the median and
// the slowest set, cpu-ms/probe the CPU time of the whole process (the
// probe's lookups run on every CPU), max-ms the slowest probe's wall time.
//
//	go test -run '^$' -bench Probe -benchtime 3x ./step
func BenchmarkProbe(b *testing.B) {
	pair, err := fixtures.Generate(context.Background(), fixtures.Spec{Size: 16 << 20, Shape: fixtures.Shrink}, fixtures.DefaultCacheDir())
	if err != nil {
		b.Fatal(err)
	}
	var regs []readers.Registration
	for _, n := range []string{"mmap", "mmap-recover", "bytes"} {
		r, err := readers.Builtin().Lookup(n)
		if err != nil {
			b.Fatal(err)
		}
		regs = append(regs, r)
	}
	for _, writer := range []string{"inplace", "cp"} {
		b.Run("16MiB/"+writer, func(b *testing.B) { benchProbe(b, pair, regs, writer) })
	}
}

func benchProbe(b *testing.B, pair fixtures.Pair, regs []readers.Registration, writer string) {
	page := os.Getpagesize()
	old, err := loadVersion("A", pair.A, page)
	if err != nil {
		b.Fatal(err)
	}
	defer old.f.Close()
	nw, err := loadVersion("B", pair.B, page)
	if err != nil {
		b.Fatal(err)
	}
	defer nw.f.Close()
	newBytes, err := os.ReadFile(pair.B)
	if err != nil {
		b.Fatal(err)
	}
	target := filepath.Join(b.TempDir(), "db.mmdb")
	var probes int
	var spent, cpu, slowest time.Duration
	perSeed := make([]time.Duration, probeSeeds)
	for b.Loop() {
		for seed := range probeSeeds {
			d, c, n, worst := probeUpdate(b, target, pair, old, nw, regs, writer, newBytes, int64(seed+1))
			perSeed[seed] += d
			spent, cpu, probes, slowest = spent+d, cpu+c, probes+n, max(slowest, worst)
		}
	}
	slices.Sort(perSeed)
	perProbe := func(d time.Duration) float64 { // ms per probe of one seed's runs
		return float64(d.Microseconds()) / 1e3 / float64(probes/probeSeeds)
	}
	b.ReportMetric(float64(spent.Microseconds())/1e3/float64(probes), "ms/probe")
	b.ReportMetric((perProbe(perSeed[probeSeeds/2-1])+perProbe(perSeed[probeSeeds/2]))/2, "median-seed-ms/probe")
	b.ReportMetric(perProbe(perSeed[probeSeeds-1]), "worst-seed-ms/probe")
	b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(probes), "cpu-ms/probe")
	b.ReportMetric(float64(slowest.Microseconds())/1e3, "max-ms")
	b.ReportMetric(float64(probes)/float64(b.N*probeSeeds), "probes")
}

// probeSeeds is how many seeds (sets of lookup IPs) each benchmark
// iteration probes with. A probe's time hangs on where its IPs lead in a
// torn file: a lookup that decodes megabytes of garbage costs the library
// up to hundreds of milliseconds to format into its error (on the default
// pair, one of these eight seeds meets such a lookup in every torn state).
// One seed alone says little.
const probeSeeds = 8

// probeUpdate lays A out at target, opens the probe's readers on it, and
// probes every state writer leaves on its way to B, with the lookup IPs
// of seed. It returns the probes' wall and CPU time, their number, and the
// slowest probe's time.
func probeUpdate(b *testing.B, target string, pair fixtures.Pair, old, nw *version, regs []readers.Registration,
	writer string, newBytes []byte, seed int64) (spent, cpu time.Duration, probes int, slowest time.Duration) {
	os.Remove(target)
	if err := copyFile(pair.A, target); err != nil {
		b.Fatal(err)
	}
	p := newProber(target, old, nw, regs, pair.Universe, 256, seed)
	if err := p.open(); err != nil {
		b.Fatal(err)
	}
	defer p.close()
	for _, change := range probeStates(writer, newBytes) {
		if err := change(target); err != nil {
			b.Fatal(err)
		}
		began, c0 := time.Now(), processCPU()
		p.observe()
		d := time.Since(began)
		spent, cpu, probes = spent+d, cpu+processCPU()-c0, probes+1
		slowest = max(slowest, d)
	}
	return spent, cpu, probes, slowest
}

// probeStates are the changes that lead from A to each state writer
// leaves on its way to B (newBytes), in order.
func probeStates(writer string, newBytes []byte) []func(target string) error {
	write := func(n int) func(string) error {
		return func(target string) error {
			f, err := os.OpenFile(target, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteAt(newBytes[:n], 0)
			return err
		}
	}
	truncate := func(n int64) func(string) error {
		return func(target string) error { return os.Truncate(target, n) }
	}
	if writer == "cp" {
		return []func(string) error{truncate(0), write(len(newBytes))}
	}
	var out []func(string) error
	for n := 256 << 10; n < len(newBytes); n *= 2 {
		out = append(out, write(n))
	}
	return append(out, write(len(newBytes)), truncate(int64(len(newBytes))))
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

// processCPU is the CPU time (user and system) of this process so far.
func processCPU() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
