package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/mapchaos/mapchaos/writers"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("empty path")
	}
	*l = append(*l, v)
	return nil
}

// validateArch checks --arch, --page-size and --stage: --stage and
// --page-size need a guest, and each staged path must exist on this
// machine.
func (f *checkFlags) validateArch() error {
	switch f.arch {
	case "native":
		if len(f.stage) > 0 {
			return errors.New("--stage copies files into the guest of --arch arm64 or amd64: without --arch the updater runs here, where its files already are")
		}
	case "arm64", "amd64":
		for _, p := range f.stage {
			if _, err := os.Stat(p); err != nil {
				return fmt.Errorf("--stage %s: %w (want a file or folder of this machine)", p, errors.Unwrap(err))
			}
		}
	default:
		return fmt.Errorf("--arch %q: want native, arm64 or amd64 (a guest kernel under full-system emulation)", f.arch)
	}
	var err error
	f.guest, err = guestArch(f.arch, f.pageSize, f.set["page-size"])
	return err
}

// guestExec is the updater as it is validated here: in a guest its
// program is found there (among the guest's Debian programs or the
// staged files), so only the shape of the command is checked.
func (f checkFlags) guestExec() writers.Exec {
	e := f.exec(nil)
	if f.arch == "native" {
		return e
	}
	self, err := os.Executable()
	if err != nil {
		return e
	}
	e.Argv = append([]string{self}, e.Argv[1:]...)
	return e
}
