package reports_test

import (
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/results"
	"github.com/mapchaos/mapchaos/verdicts"
)

// counts builds Counts from word/number pairs.
func counts(pairs map[verdicts.Verdict]int) verdicts.Counts {
	var c verdicts.Counts
	for v, n := range pairs {
		c[v] = n
	}
	return c
}

// fullReport returns a report in which every field of every type is set,
// so that a round trip that drops a field is noticed.
func fullReport() reports.Report {
	ff := int64(1234)
	return reports.Report{
		Schema: reports.Schema,
		Run: reports.Run{
			Seed:       42,
			Mode:       "race",
			Requested:  "step",
			GOOS:       "linux",
			GOARCH:     "amd64",
			Emulation:  "none",
			Kernel:     "6.1.0-18-amd64",
			PageSize:   4096,
			FS:         "ext4",
			Go:         "go1.26.8",
			Modules:    map[string]string{"github.com/oschwald/maxminddb-golang": "v1.13.1"},
			Started:    "2026-05-01T12:00:00Z",
			DurationMS: 61500,
			Host:       "ci-runner-7",
			Config:     "ginkgo.yml",
			Fixture:    "16 MiB, shrink",
			WriterCmd:  "./bin/update-geoip {new} {target}",
			ReaderCmd:  "python3 reader.py {target}",
			Warnings:   []string{"ptrace not permitted: fell back to race mode"},
		},
		Results: []reports.Entry{
			{
				Result: results.Result{
					Writer:  "cp",
					Reader:  "mmap",
					Verdict: verdicts.Crash,
					Counts:  counts(map[verdicts.Verdict]int{verdicts.Safe: 1, verdicts.Degraded: 2, verdicts.Recovered: 3, verdicts.Stuck: 4, verdicts.Corrupt: 5, verdicts.Crash: 6}),
					Roles: map[results.Role]results.RoleResult{
						results.Running:  {Verdict: verdicts.Crash, Counts: counts(map[verdicts.Verdict]int{verdicts.Crash: 4}), Readers: 4},
						results.Starting: {Verdict: verdicts.Degraded, Counts: counts(map[verdicts.Verdict]int{verdicts.Degraded: 2}), Readers: 2},
					},
					Lookups:        100000,
					Answers:        verdicts.Tally{Lookups: 99999, Right: 99000, Errors: 900, Wrong: 50, Faults: 49, OpenErrors: 1, Opens: 321},
					Updates:        20,
					FirstFailureMS: &ff,
					DurationMS:     30000,
					LookupsPerSec:  3333.5,
					Evidence: &results.Evidence{
						Outcome:      verdicts.Crash,
						Role:         results.Running,
						Reader:       "running-1",
						Signal:       "SIGBUS",
						SignalNumber: 7,
						Code:         "BUS_ADRERR",
						Addr:         "0x7f3a2c001000",
						ExitStatus:   "exit 2",
						Fatal:        "fatal error: fault",
						Trace:        "unexpected fault address 0x7f3a2c001000\ngithub.com/oschwald/maxminddb-golang.(*decoder).decode(...)",
						Detail:       "reader died during lookup",
						LastLookups:  []string{"10.0.0.1", "10.0.1.7"},
						WriterStep:   "openat(O_WRONLY|O_TRUNC)",
						AtMS:         1234,
						Stderr:       "fatal error: fault\n[signal SIGBUS: bus error code=0x2 addr=0x7f3a2c001000 pc=0x4a1b2c]",
						Repro:        "mapchaos matrix --writers cp --readers mmap --seed 42",
						Step:         1,
					},
					WriterError: "cp: short write",
					Leftovers:   []string{"pid 4242 `sleep 300`, started by the updater, still running after it exited: killed"},
					Step: &results.StepTrace{Updates: []results.StepUpdate{{
						Update: "A->B", Command: "mapchaos writer cp A.mmdb db.mmdb 1",
						States: []results.StepState{{N: 1, Call: "openat(db.mmdb, O_WRONLY|O_TRUNC)",
							Running: "SIGBUS at offset 0", Starting: "empty file", Unsafe: true,
							RunningVerdict: verdicts.Crash, StartingVerdict: verdicts.Degraded, Detail: "page 0 past the end"}},
						FirstUnsafe: 1,
						Kills: []results.StepKill{{After: 1, Call: "openat", Found: "empty file", Broken: true,
							LeftBehind: []string{"db.mmdb.temporary"}, Note: "killed after the truncating open"}},
						Calls: 3, Stops: 6, Probes: 2, Exit: "exit 0", Warnings: []string{"io_uring not stepped"},
					}}},
					PowerLoss: &results.PowerLossTrace{Model: "posix", Down: 1, Updates: []results.PowerLossUpdate{{
						Update: "A->B", Command: "mapchaos writer rename-nofsync B.mmdb db.mmdb 1", Calls: 3, Barriers: 1,
						Exist: "about 10^744", Explored: 64, Sampled: true, Exit: "exit 0", Warnings: []string{"io_uring not stepped"},
						States: []results.CrashState{{ID: 3, Kind: "crash", After: 3, Call: `renameat("db.mmdb.tmp", "db.mmdb") = 0`,
							Lost: `"db.mmdb": size 0 instead of 10066229`, Name: "empty", OnDisk: "empty file",
							Leftovers: []string{"db.mmdb.tmp"}, Verdict: verdicts.Degraded, Detail: "open: invalid argument", Down: true}},
						Kernel: &results.KernelCheck{Device: "ext4 over dm-log-writes, Linux 6.1.0-57-cloud-amd64", Model: "ext4-ordered", Entries: 42, Barriers: 13,
							Replays: 31, Mounted: 20, Missed: 1, ModelStates: 5, ModelProduced: 2, NamesNotProduced: []string{"torn"}, DurationMS: 47741,
							States: []results.KernelState{{ID: 1, Entry: 155, What: "fua+metadata write", Mark: "mapchaos-update", Replays: 17, LostWrites: []int{153},
								InModel: true, After: 42, Meta: 41, Pages: "10066229 bytes; pages 0-2457: zeros", Name: "zero-filled", OnDisk: "zero-filled: 10066229 bytes, every one zero",
								Lost: `"db.mmdb": 2458 of 2458 pages read as zeros`, Leftovers: []string{"db.mmdb.tmp"},
								Verdict: verdicts.Degraded, Detail: "open: invalid database", Down: true}}},
					}}, Missed: ptr("update A->B: the replay of the kernel's log to entry 155 left a state the model does not allow")},
				},
				Expected: "crash",
				Met:      true,
			},
		},
	}
}

// entry is a small result for matrix tests.
func entry(writer, reader string, v verdicts.Verdict, expected string, met bool) reports.Entry {
	e := reports.Entry{
		Result: results.Result{
			Writer:     writer,
			Reader:     reader,
			Verdict:    v,
			Counts:     counts(map[verdicts.Verdict]int{v: 3}),
			Lookups:    3000,
			Updates:    10,
			DurationMS: 1500,
		},
		Expected: expected,
		Met:      met,
	}
	if v != verdicts.Safe {
		e.Evidence = &results.Evidence{
			Outcome: v,
			Role:    results.Running,
			Reader:  "running-0",
			Detail:  writer + " x " + reader + " went " + v.String(),
			Repro:   "mapchaos matrix --writers " + writer + " --readers " + reader + " --seed 7",
		}
	}
	return e
}

// smallReport is a 2x2 matrix with one unmet expectation.
func smallReport() reports.Report {
	return reports.Report{
		Schema: reports.Schema,
		Run: reports.Run{
			Seed: 7, Mode: "race", GOOS: "linux", GOARCH: "amd64", Emulation: "none",
			Kernel: "6.1.0", PageSize: 4096, FS: "ext4", Go: "go1.26.8",
			Started: "2026-05-01T12:00:00Z", DurationMS: 3000,
		},
		Results: []reports.Entry{
			entry("rename", "mmap", verdicts.Safe, "safe", true),
			entry("cp", "mmap", verdicts.Crash, "crash", true),
			entry("rename", "bytes", verdicts.Safe, "safe", true),
			entry("cp", "bytes", verdicts.Degraded, "safe", false),
		},
	}
}

func ptr[T any](v T) *T { return &v }
