package reports_test

import (
	"fmt"

	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/results"
	"github.com/mapchaos/mapchaos/verdicts"
)

// example is a run of two writers against one reader: cp crashed the
// mmap reader as expected; rename was expected to be safe but one reader
// was served an error while the link was being swapped.
func example() reports.Report {
	return reports.Report{
		Schema: reports.Schema,
		Run: reports.Run{
			Seed: 42, Mode: "race", GOOS: "linux", GOARCH: "amd64", Emulation: "none",
			Kernel: "6.1.0", PageSize: 4096, FS: "ext4", Go: "go1.26.8", DurationMS: 2500,
		},
		Results: []reports.Entry{
			{
				Result: results.Result{
					Writer: "cp", Reader: "mmap", Verdict: verdicts.Crash,
					Counts:  verdicts.Counts{verdicts.Crash: 2},
					Lookups: 5000, Updates: 10,
					Evidence: &results.Evidence{
						Outcome: verdicts.Crash, Role: results.Running, Reader: "running-0",
						Signal: "SIGBUS", SignalNumber: 7, Code: "BUS_ADRERR", Addr: "0x7f3a2c001000",
						ExitStatus: "exit 2", Fatal: "fatal error: fault", AtMS: 15,
						WriterStep: "openat(O_WRONLY|O_TRUNC)",
						Trace:      "main.lookup(...)\n\t/src/reader/main.go:42",
						Repro:      "mapchaos matrix --writers cp --readers mmap --seed 42",
					},
				},
				Expected: "crash", Met: true,
			},
			{
				Result: results.Result{
					Writer: "rename", Reader: "mmap", Verdict: verdicts.Degraded,
					Counts:  verdicts.Counts{verdicts.Safe: 1, verdicts.Degraded: 1},
					Lookups: 5000, Updates: 10,
				},
				Expected: "safe", Met: false,
			},
		},
	}
}

func ExampleMarkdown() {
	fmt.Print(reports.Markdown(example()))
	// Output:
	// # mapchaos report
	//
	// ## Verdicts
	//
	// | writer \ reader | mmap |
	// |---|---|
	// | **cp** | crash |
	// | **rename** | degraded ✗ (expected safe) |
	//
	// **1 of 2 expectations not met:**
	//
	// - rename × mmap: expected safe, observed degraded
	//
	// ### Legend
	//
	// | word | meaning |
	// |---|---|
	// | `safe` | every lookup answered with the right record for that IP, from A or from B |
	// | `degraded` | an open, reload or lookup returned an error (ENOENT, invalid database ...), but no wrong answer was served and the process lived |
	// | `recovered` | a memory fault (SIGBUS/SIGSEGV) was caught inside the reader (SetPanicOnFault + recover) and it went on |
	// | `stuck` | the reader stopped making progress without dying |
	// | `corrupt` | a lookup returned a record that is right for that IP in neither A nor B, with no error |
	// | `crash` | the reader process died: killed by a signal, or a Go fatal error (exit 2, "fatal error:" on stderr) |
	//
	// ## Environment
	//
	// platform linux/amd64, emulation none, kernel 6.1.0, page size 4096, fs ext4, go go1.26.8, seed 42, mode race, duration 2.5s.
	//
	// ## cp × mmap: crash
	//
	// - verdict: crash
	// - expected: crash (met)
	// - counts: crash 2
	// - outcome: crash
	// - reader: running-0 (running)
	// - signal: `SIGBUS (7)`
	// - code: `BUS_ADRERR`
	// - addr: `0x7f3a2c001000`
	// - exit status: `exit 2`
	// - fatal: `fatal error: fault`
	// - writer step: `openat(O_WRONLY|O_TRUNC)`
	// - at: 15ms after the first update
	// - lookups: 5000 in 10 updates
	//
	// trace:
	//
	// ```text
	// main.lookup(...)
	// 	/src/reader/main.go:42
	// ```
	//
	// repro:
	//
	// ```sh
	// mapchaos matrix --writers cp --readers mmap --seed 42
	// ```
	//
	// ## rename × mmap: degraded ✗ (expected safe)
	//
	// - verdict: degraded
	// - expected: safe (not met)
	// - counts: safe 1, degraded 1
	// - lookups: 5000 in 10 updates
}

func ExampleMerge() {
	amd := example()
	arm := example()
	arm.Run.GOARCH, arm.Run.Emulation = "arm64", "qemu-system"
	arm.Results[1].Verdict, arm.Results[1].Met = verdicts.Safe, true
	arm.Results = append(arm.Results, reports.Entry{
		Result:   results.Result{Writer: "rename", Reader: "bytes", Verdict: verdicts.Safe},
		Expected: "safe", Met: true,
	})

	m, err := reports.Merge([]reports.Report{amd, arm}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, row := range m.Rows {
		line := row.Writer + " × " + row.Reader + ":"
		for i, e := range row.Cells {
			v := "—"
			if e != nil {
				v = e.Verdict.String()
			}
			line += " " + m.Labels[i] + "=" + v
		}
		if row.Differs {
			line += " (differs)"
		}
		fmt.Println(line)
	}
	// Output:
	// cp × mmap: amd64=crash arm64/qemu-system=crash
	// rename × bytes: amd64=— arm64/qemu-system=safe
	// rename × mmap: amd64=degraded arm64/qemu-system=safe (differs)
}

func ExampleDefaultLabel() {
	fmt.Println(reports.DefaultLabel(reports.Run{GOARCH: "amd64", Emulation: "none"}))
	fmt.Println(reports.DefaultLabel(reports.Run{GOARCH: "arm64", Emulation: "qemu-system"}))
	// Output:
	// amd64
	// arm64/qemu-system
}
