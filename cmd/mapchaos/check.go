package main

import "context"

// check validates a team's own updater (and reader): see issue "mapchaos check".
func (a *app) check(ctx context.Context, args []string) (int, error) {
	return 0, usagef("check is not built yet")
}
