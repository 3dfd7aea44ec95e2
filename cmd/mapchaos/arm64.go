package main

import (
	"context"

	"github.com/mapchaos/mapchaos/config"
	"github.com/mapchaos/mapchaos/matrix"
)

// matrixArm64 runs the matrix inside a real arm64 kernel under qemu-system.
func (a *app) matrixArm64(ctx context.Context, f matrixFlags, cfg config.Config, plan matrix.Plan) (int, error) {
	return 0, usagef("--arch arm64: full-system arm64 emulation is not built yet; use --arch native")
}
