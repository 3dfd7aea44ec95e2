package main

import (
	"context"

	"github.com/mapchaos/mapchaos/config"
	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/matrix"
)

// matrixStep runs the matrix in step mode (the writer under ptrace).
func (a *app) matrixStep(ctx context.Context, f matrixFlags, cfg config.Config, plan matrix.Plan, pair fixtures.Pair) (int, error) {
	return 0, usagef("--mode step: the deterministic step mode is not built yet; use --mode race")
}
