package main

// report handles `mapchaos report merge ...`.
func (a *app) report(args []string) error {
	return usagef("report merge is not built yet")
}
