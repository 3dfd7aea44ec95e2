package main

import (
	"context"

	"github.com/mapchaos/mapchaos/step"
)

// wrapFlag makes `mapchaos writer` the trace wrapper of step mode:
// `mapchaos writer --trace-wrap [-seccomp] -- PROG ARGS...` stops itself
// until the harness has attached with ptrace, then execs PROG. It does the
// same as `mapchaos trace-wrap`, which needs its own line in main.go.
const wrapFlag = "--trace-wrap"

// writerChild is `mapchaos writer NAME SRC TARGET SEQ`: a built-in writer
// run as its own process (for step mode, which traces it). It exits 0 when
// the update succeeded, 1 when the writer failed, 2 for bad usage. Not for
// use by hand.
func (a *app) writerChild(ctx context.Context, args []string) int {
	if len(args) > 0 && args[0] == wrapFlag {
		return step.Wrap(args[1:], a.stderr)
	}
	return step.RunWriter(ctx, args, a.writers, a.stderr)
}

// traceWrap is `mapchaos trace-wrap [-seccomp] -- PROG ARGS...`: the trace
// wrapper for any updater command (see step.Wrap). Not for use by hand.
func (a *app) traceWrap(args []string) int {
	return step.Wrap(args, a.stderr)
}
