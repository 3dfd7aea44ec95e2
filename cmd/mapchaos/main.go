package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/mapchaos/mapchaos/harness"
	"github.com/mapchaos/mapchaos/readers"
	"github.com/mapchaos/mapchaos/writers"
)

// Exit statuses (docs/contracts.md).
const (
	exitOK      = 0
	exitFailed  = 1 // an expectation failed, or the updater is unsafe
	exitUsage   = 2 // bad usage, config or input
	exitHarness = 3 // the harness itself failed
)

// usageError is bad usage, config or input: exit 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

const usage = `mapchaos: race updaters of a memory-mapped file against its readers, in real processes.

Usage:
  mapchaos matrix  [--config ginkgo.yml] [--writers a,b] [--readers x,y] [--seed N] [--out DIR]
                   [--mode race|step] [--arch native|arm64|amd64] [--page-size 4k|16k]
                   [--fs ext4|xfs|btrfs|tmpfs|overlay]
  mapchaos check   --writer-cmd 'PROG ARG {new} {target}' [--readers x,y] [--reader-cmd 'PROG {target}']
                   [--mode race|step] [--fs ext4|xfs|btrfs|tmpfs|overlay] [--out DIR]
  mapchaos explain [--reproduce] [--json] [--config ginkgo.yml] [FILE|-]
  mapchaos report merge A/report.json B/report.json [...] --out DIR [--labels a,b]
  mapchaos list
  mapchaos config  > ginkgo.yml

Without --config, matrix and explain read ./ginkgo.yml, or else the built-in default config,
which 'mapchaos config' prints.

Run 'mapchaos matrix -h' for the flags of a command.
Exit status: 0 every expectation held; 1 an expectation failed; 2 bad usage, config or input;
3 the harness itself failed.
`

// app carries what the commands share: the registries and the streams.
type app struct {
	writers *writers.Registry
	readers *readers.Registry
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
	self    string // path of this executable (reader children re-run it)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "mapchaos: cannot find my own executable: %v\n", err)
		os.Exit(exitHarness)
	}
	a := &app{writers: writers.Builtin(), readers: readers.Builtin(),
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, self: self}
	code := a.run(ctx, os.Args[1:])
	if len(os.Args) > 1 {
		reportPeakRSS(os.Stderr, os.Args[1])
	}
	os.Exit(code)
}

func (a *app) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(a.stderr, usage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "matrix":
		var code int
		code, err = a.matrix(ctx, args[1:])
		if err == nil {
			return code
		}
	case "list":
		err = a.list(args[1:])
	case "config":
		var code int
		code, err = a.printConfig(args[1:])
		if err == nil {
			return code
		}
	case "check":
		var code int
		code, err = a.check(ctx, args[1:])
		if err == nil {
			return code
		}
	case "explain":
		var code int
		code, err = a.explain(ctx, args[1:])
		if err == nil {
			return code
		}
	case "report":
		var code int
		code, err = a.report(ctx, args[1:])
		if err == nil {
			return code
		}
	case "reader":
		return readers.RunChild(ctx, args[1:], a.readers, a.stdin, a.stdout, a.stderr)
	case "writer":
		return a.writerChild(ctx, args[1:])
	case "trace-wrap":
		return a.traceWrap(args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(a.stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(a.stderr, "mapchaos: unknown command %q: want matrix, check, explain, report, list or config\n\n%s", args[0], usage)
		return exitUsage
	}
	if err == nil || errors.Is(err, errHelp) {
		return exitOK
	}
	fmt.Fprintf(a.stderr, "mapchaos %s: %v\n", args[0], err)
	var ue usageError
	var ie *harness.InputError
	switch {
	case errors.Is(err, context.Canceled): // first: reading an input the user named can be interrupted too
		fmt.Fprintln(a.stderr, "mapchaos: interrupted; every reader process was stopped")
		return exitHarness
	case errors.As(err, &ue), errors.As(err, &ie):
		return exitUsage
	}
	return exitHarness
}
