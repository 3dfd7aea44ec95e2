package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// errHelp means -h or --help was asked for: the usage went to stdout, and
// the command exits 0 (help is not an error).
var errHelp = errors.New("help requested")

// isHelp reports whether args ask for help and nothing else.
func isHelp(args []string) bool {
	return len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help" || args[0] == "help")
}

// parseFlags parses args with fs. For -h/--help the usage goes to stdout
// and the error is errHelp; otherwise what the flag package says about a
// bad flag goes to stderr and the error is a usageError.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	var said bytes.Buffer
	fs.SetOutput(&said)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		stdout.Write(said.Bytes())
		return errHelp
	}
	stderr.Write(said.Bytes())
	if err != nil {
		return usageError{err}
	}
	return nil
}

// The one rule of matrix and check for counts: a flag given on the command
// line is checked against its valid range, never silently replaced.
const maxUpdates = 10000

// checkUpdates refuses --updates outside 1 to maxUpdates.
func checkUpdates(n int64) error {
	if n < 1 || n > maxUpdates {
		return fmt.Errorf("--updates %d: want 1 to %d", n, maxUpdates)
	}
	return nil
}

// checkSeed refuses a negative --seed.
func checkSeed(n int64) error {
	if n < 0 {
		return fmt.Errorf("--seed %d: want 0 to 9223372036854775807", n)
	}
	return nil
}

// nameList splits a comma-separated list of names given as --flag. An
// empty name or a name listed twice is refused; so is an empty list when
// emptyOK is false.
func nameList(flagName, value string, emptyOK bool) ([]string, error) {
	if strings.TrimSpace(value) == "" {
		if emptyOK {
			return nil, nil
		}
		return nil, fmt.Errorf("--%s is empty: name at least one (see mapchaos list), or leave the flag out for those of the config", flagName)
	}
	var out []string
	seen := map[string]bool{}
	for _, p := range strings.Split(value, ",") {
		p = strings.TrimSpace(p)
		switch {
		case p == "":
			return nil, fmt.Errorf("--%s %q: an empty name: want names separated by single commas, e.g. --%s a,b", flagName, value, flagName)
		case seen[p]:
			return nil, fmt.Errorf("--%s %q: %q is listed twice: name each once", flagName, value, p)
		}
		seen[p] = true
		out = append(out, p)
	}
	return out, nil
}

// closing is the last line of a matrix whose expectations all held:
// total combinations, of which unexpected had no expectation.
func closing(total, unexpected int, where string, secs float64) string {
	switch {
	case total > 0 && unexpected == total:
		return fmt.Sprintf("%d combinations observed%s, none expected: the config has no expectation (expect:) for them, so nothing was checked (%.1fs)", total, where, secs)
	case unexpected > 0:
		return fmt.Sprintf("every expectation held%s (%d combinations, %d of them without an expectation, %.1fs)", where, total, unexpected, secs)
	}
	return fmt.Sprintf("every expectation held%s (%d combinations, %.1fs)", where, total, secs)
}

// given checks the flags of matrix that were given on the command line
// (fs.Visit): a count or a list given is checked, never taken for "not
// given".
func (f *matrixFlags) given(fs *flag.FlagSet) error {
	var errs []error
	var err error
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "config":
			f.configSet = true
		case "page-size":
			f.pageSizeSet = true
		case "updates":
			errs = append(errs, checkUpdates(f.updates))
		case "seed":
			errs = append(errs, checkSeed(f.seed))
		case "writers":
			f.writerNames, err = nameList("writers", f.writers, false)
			errs = append(errs, err)
		case "readers":
			f.readerNames, err = nameList("readers", f.readers, false)
			errs = append(errs, err)
		}
	})
	return errors.Join(errs...)
}
