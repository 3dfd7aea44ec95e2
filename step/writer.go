package step

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/mapchaos/mapchaos/writers"
)

// WriterArgs are the arguments of the writer program for one update:
// NAME SRC TARGET SEQ.
func WriterArgs(name, src, target string, seq int) []string {
	return []string{name, src, target, strconv.Itoa(seq)}
}

// RunWriter is the writer program (`mapchaos writer NAME SRC TARGET SEQ`):
// it applies one update with the built-in writer NAME of reg, so that the
// writer runs as a process of its own that can be traced. It returns the
// exit status: 0 when the update succeeded, 1 when the writer failed, 2
// for bad usage.
func RunWriter(ctx context.Context, args []string, reg *writers.Registry, stderr io.Writer) int {
	if len(args) != 4 {
		fmt.Fprintf(stderr, "mapchaos writer: want NAME SRC TARGET SEQ, got %d arguments\n", len(args))
		return 2
	}
	s, err := reg.Lookup(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "mapchaos writer: %v\n", err)
		return 2
	}
	seq, err := strconv.Atoi(args[3])
	if err != nil || seq < 1 {
		fmt.Fprintf(stderr, "mapchaos writer: SEQ %q: want a positive number\n", args[3])
		return 2
	}
	u := writers.Update{Target: args[2], Source: args[1], Seq: seq}
	if err := s.Writer.Update(ctx, u); err != nil {
		fmt.Fprintf(stderr, "mapchaos writer: %s: %v\n", s.Name, err)
		return 1
	}
	return 0
}
