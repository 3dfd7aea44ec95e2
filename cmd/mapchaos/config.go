package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mapchaos/mapchaos"
	"github.com/mapchaos/mapchaos/config"
)

// configUsage is the usage of `mapchaos config`.
const configUsage = "Usage: mapchaos config > ginkgo.yml (prints the built-in default config; takes no argument)"

// builtinName is what messages call the built-in default config.
const builtinName = "built-in ginkgo.yml"

// printConfig prints the built-in default config: `mapchaos config`.
func (a *app) printConfig(args []string) (int, error) {
	if isHelp(args) {
		fmt.Fprintln(a.stdout, configUsage)
		return exitOK, nil
	}
	if len(args) > 0 {
		return 0, usagef("unexpected argument %q\n%s", strings.Join(args, " "), configUsage)
	}
	fmt.Fprint(a.stdout, mapchaos.DefaultConfig())
	return exitOK, nil
}

// builtinConfig parses the built-in default config. Its Path is empty:
// there is no file to copy or to name in a repro command.
func builtinConfig() (config.Config, error) {
	c, err := config.Parse([]byte(mapchaos.DefaultConfig()), builtinName)
	if err != nil {
		return c, fmt.Errorf("the %s does not parse (a broken build): %w", builtinName, err)
	}
	return c, nil
}

// configLine names the config a command uses, for its first lines:
// "config: ./ginkgo.yml" or the built-in default.
func configLine(c config.Config) string {
	switch {
	case c.Path == "":
		return "config: built-in default (print it with mapchaos config)"
	case !filepath.IsAbs(c.Path) && filepath.Dir(c.Path) == ".":
		return "config: ./" + filepath.Clean(c.Path)
	}
	return "config: " + c.Path
}

// sayConfig prints configLine(c) on stdout, or on stderr when stdout
// carries JSON alone.
func (a *app) sayConfig(c config.Config, jsonOut bool) {
	w := a.stdout
	if jsonOut {
		w = a.stderr
	}
	fmt.Fprintln(w, configLine(c))
}
