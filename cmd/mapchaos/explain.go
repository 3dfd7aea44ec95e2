package main

import "context"

// explain reads a crash trace and says what happened and how to fix it.
func (a *app) explain(ctx context.Context, args []string) (int, error) {
	return 0, usagef("explain is not built yet")
}
