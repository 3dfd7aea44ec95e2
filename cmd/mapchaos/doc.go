// Command mapchaos races updaters of a memory-mapped file against readers
// of it, in real processes, and reports which combinations crash, and how.
//
//	mapchaos matrix  [--config ginkgo.yml] [--writers a,b] [--readers x,y] [--seed N] [--out DIR]
//	                 [--old FILE --new FILE] [--mode race|step] [--arch native|arm64|amd64]
//	                 [--page-size 4k|16k] [--fs ext4|xfs|btrfs|tmpfs|overlay]
//	mapchaos check   --writer-cmd 'PROG ARG {new} {target}' [--readers x,y] [--reader-cmd 'PROG {target}']
//	                 [--fs ext4|xfs|btrfs|tmpfs|overlay]
//	mapchaos explain [--reproduce] [--json] [--config ginkgo.yml] [FILE|-]
//	mapchaos report merge A/report.json B/report.json [...] --out DIR [--labels a,b]
//	mapchaos list
//	mapchaos config  > ginkgo.yml
//
// Without --config, matrix and explain read ./ginkgo.yml when there is one,
// and otherwise the repository's ginkgo.yml built into the binary
// (mapchaos.DefaultConfig), which `mapchaos config` prints; their first
// line says which ("config: ./ginkgo.yml"). check reads no config file.
//
// Exit status: 0 every expectation held (matrix), or no reader crashed,
// got stuck or was served a wrong answer (check); 1 an expectation failed,
// or the updater is unsafe or itself failed; 2 bad usage, config or input;
// 3 the harness itself failed or was interrupted. -h or --help on any
// command prints its usage on stdout and exits 0. A flag given is checked
// against its range, never taken for "not given" (flags.go: one rule for
// matrix and check).
//
// Every command builds a harness.Run and prints what it tells; this
// package holds only flags, printing and exit statuses. `mapchaos reader`
// (the reader child), `mapchaos writer` (a built-in writer as a process of
// its own, for step mode) and `mapchaos trace-wrap` (step mode's ptrace
// wrapper) are started by the harness; they are not meant to be run by hand.
package main
