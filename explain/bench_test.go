package explain_test

import (
	"context"
	"encoding/base64"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mapchaos/mapchaos/explain"
)

// noise returns about n bytes of base64 in lines of 76 characters, as
// `base64 /dev/urandom` prints it: the log around a crash, at its worst
// (every line has the same width, so it reads as one hard-wrapped line).
func noise(n int) string {
	rng := rand.New(rand.NewPCG(1, 2))
	raw := make([]byte, 57) // 57 bytes encode to one 76-character line
	var b strings.Builder
	b.Grow(n + 77)
	for b.Len() < n {
		for i := range raw {
			raw[i] = byte(rng.Uint32())
		}
		b.WriteString(base64.StdEncoding.EncodeToString(raw))
		b.WriteByte('\n')
	}
	return b.String()
}

// BenchmarkExplain50MB measures Analyze on 50 MiB of log: base64 noise
// alone, noise that ends in a Go fault trace (kubectl logs of a day), and
// noise split into CRI records of 50 bytes (partial records joined again).
func BenchmarkExplain50MB(b *testing.B) {
	trace, err := os.ReadFile(filepath.Join("testdata", "harness-cp-mmap.txt"))
	if err != nil {
		b.Fatal(err)
	}
	z := noise(50 << 20)
	for _, c := range []struct {
		name string
		text string
		want explain.Kind
	}{
		{"noise", z, explain.Nothing},
		{"noise-then-trace", z + string(trace), explain.Fault},
		{"cri-partial", criPartial(z[:27<<20]) + string(trace), explain.Fault},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.text)))
			var x explain.Explanation
			start := cpuTime()
			for b.Loop() {
				if x, err = explain.Analyze(context.Background(), c.text, nil); err != nil {
					b.Fatal(err)
				}
			}
			// on a shared machine the wall time says more about the others
			b.ReportMetric((cpuTime()-start).Seconds()/float64(b.N), "cpu-s/op")
			if x.Kind != c.want {
				b.Fatalf("%s: kind %s, want %s: %s", c.name, x.Kind, c.want, x.Found)
			}
		})
	}
}

// cpuTime is the processor time this process has used, in all its threads
// (the garbage collector's included).
func cpuTime() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
