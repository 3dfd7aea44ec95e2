package main

import (
	"context"
	"fmt"
)

// writerChild is `mapchaos writer ...`: a built-in writer run as its own
// process (for step mode, which traces it). Not for use by hand.
func (a *app) writerChild(ctx context.Context, args []string) int {
	fmt.Fprintln(a.stderr, "mapchaos writer: not built yet")
	return exitUsage
}
