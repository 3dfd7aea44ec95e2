package explain_test

import (
	"context"
	"fmt"

	"github.com/mapchaos/mapchaos/config"
	"github.com/mapchaos/mapchaos/explain"
	"github.com/mapchaos/mapchaos/harness"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/verdicts"
	"github.com/mapchaos/mapchaos/writers"
)

const pasted = `2026-11-30T05:40:30.118Z stderr F unexpected fault address 0x7f52ad6002a3
2026-11-30T05:40:30.118Z stderr F fatal error: fault
2026-11-30T05:40:30.118Z stderr F [signal SIGBUS: bus error code=0x2 addr=0x7f52ad6002a3 pc=0x5ac139]
2026-11-30T05:40:30.118Z stderr F
2026-11-30T05:40:30.118Z stderr F goroutine 1 [running]:
2026-11-30T05:40:30.118Z stderr F runtime.throw({0x5c2b1e?, 0x0?})
2026-11-30T05:40:30.118Z stderr F 	/usr/local/go/src/runtime/panic.go:1101 +0x48
2026-11-30T05:40:30.118Z stderr F runtime.sigpanic()
2026-11-30T05:40:30.118Z stderr F 	/usr/local/go/src/runtime/signal_unix.go:939 +0x26a
2026-11-30T05:40:30.118Z stderr F github.com/oschwald/maxminddb-golang.(*Reader).traverseTree(0xc0000b2000, {0xc000012345, 0x10, 0x10}, 0x0, 0x80)
2026-11-30T05:40:30.118Z stderr F 	/app/vendor/github.com/oschwald/maxminddb-golang/reader.go:286 +0xbe
2026-11-30T05:40:30.118Z stderr F github.com/oschwald/geoip2-golang.(*Reader).City(0x40001a0030, {0x4000164e40, 0x10, 0x10})
2026-11-30T05:40:30.118Z stderr F 	/app/vendor/github.com/oschwald/geoip2-golang/reader.go:350 +0xb4
2026-11-30T05:40:30.118Z stderr F example.com/geo/lookup.(*Service).Resolve(0x40001b6000, {0x4000164e30?, 0xd?})
2026-11-30T05:40:30.118Z stderr F 	/app/lookup/service.go:61 +0x98
`

func ExampleAnalyze() {
	known := []explain.Combination{
		{Writer: "cp", Reader: "mmap", Expected: []verdicts.Verdict{verdicts.Crash}, Mapped: true,
			Command: "mapchaos matrix --writers cp --readers mmap --seed 42"},
		{Writer: "rename", Reader: "mmap", Expected: []verdicts.Verdict{verdicts.Safe}, Mapped: true},
	}
	x, _ := explain.Analyze(context.Background(), pasted, known)
	fmt.Println(x.Kind, x.Signal, x.Code, x.Addr)
	fmt.Println(x.Frame.Func)
	fmt.Println(x.Library, "via", x.Via, "from", x.Caller.Func)
	for _, r := range x.Reproduce {
		fmt.Println(r.Command)
	}
	for _, f := range x.Fixes {
		fmt.Println("-", f.Title)
	}
	// Output:
	// fault SIGBUS BUS_ADRERR 0x7f52ad6002a3
	// github.com/oschwald/maxminddb-golang.(*Reader).traverseTree
	// maxminddb-golang vendored via [geoip2-golang] from example.com/geo/lookup.(*Service).Resolve
	// mapchaos matrix --writers cp --readers mmap --seed 42
	// - Replace the file atomically
	// - Swap a symlink atomically
	// - Read the file into memory
	// - Last resort: debug.SetPanicOnFault + recover + reopen
}

func ExampleAnalyze_shell() {
	x, _ := explain.Analyze(context.Background(), "$ ./geo-server --db GeoLite2-City.mmdb\nBus error (core dumped)\n", nil)
	fmt.Println(x.Kind, x.Signal, x.SignalNumber, x.Library.Name)
	fmt.Println(x.Found)
	fmt.Println(x.Headline)
	// Output:
	// killed SIGBUS 7 a foreign reader
	// A process was killed by SIGBUS (bus error) in a foreign reader.
	// Bus error (core dumped)
}

func ExampleExplanation_Text() {
	x, _ := explain.Analyze(context.Background(), "panic: assignment to entry in nil map\r\n\r\ngoroutine 1 [running]:\r\nmain.main()\r\n\t/src/app/main.go:61 +0x2ac\r\nexit status 2\r\n", nil)
	fmt.Print(x.Text())
	// Output:
	// No memory fault found. It found a Go panic: a write to a nil map (panic: assignment to entry in nil
	// map), in main.main (/src/app/main.go:61). That is not a fault on a memory-mapped file.
	//   headline: panic: assignment to entry in nil map
	//   frame: main.main (/src/app/main.go:61)
}

func ExampleKnown() {
	cfg, err := config.Parse([]byte(`
writers: [cp, rename]
readers: [mmap, bytes]
expect:
  - {writer: cp, reader: mmap, verdict: crash, why: "truncation under a live mapping"}
  - {writer: rename, reader: "*", verdict: safe, why: "the old inode stays whole"}
`), "ginkgo.yml")
	if err != nil {
		panic(err)
	}
	plan, err := harness.Resolve(cfg, writers.Builtin(), readers.Builtin(), nil, nil)
	if err != nil {
		panic(err)
	}
	for _, c := range explain.Known(plan, "maxminddb-golang v1.13.1", nil) {
		fmt.Println(c.Name(), c.Expected, "mapped:", c.Mapped)
	}
	x, _ := explain.Analyze(context.Background(), "[signal SIGBUS: bus error code=0x2 addr=0x7f3a2c001000 pc=0x5ac1ce]", explain.Known(plan, "maxminddb-golang v1.13.1", nil))
	fmt.Println("reproduced by:", x.Reproduce[0].Name())
	// Output:
	// cp x mmap [crash] mapped: true
	// rename x mmap [safe] mapped: true
	// rename x bytes [safe] mapped: false
	// reproduced by: cp x mmap
}

func ExampleExplanation_Compare() {
	x, _ := explain.Analyze(context.Background(), pasted, nil)
	c := x.Compare(explain.Observed{Writer: "cp", Reader: "mmap", Verdict: verdicts.Crash, Signal: "SIGBUS", Code: "BUS_ADRERR",
		Trace: "goroutine 1 [running]:\ngithub.com/oschwald/maxminddb-golang.(*decoder).decodeCtrlData(...)\n\t/root/go/pkg/mod/github.com/oschwald/maxminddb-golang@v1.13.1/decoder.go:97\n"})
	fmt.Println(c.Match)
	fmt.Println(c.Text)
	// Output:
	// same
	// cp x mmap: crash with SIGBUS BUS_ADRERR in maxminddb-golang v1.13.1: the same signature as the pasted trace.
}
