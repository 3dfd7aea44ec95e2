package proctest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Find lists the live processes for which match returns true, as
// "PID (STATE): CMDLINE" (arguments joined by spaces; STATE is the letter
// of /proc/PID/stat: R, S, T for a stopped or traced process ...).
func Find(match func(cmdline string) bool) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue // gone, or a kernel thread
		}
		if cmd := strings.TrimRight(strings.ReplaceAll(string(b), "\x00", " "), " "); match(cmd) {
			out = append(out, e.Name()+" ("+state(e.Name())+"): "+cmd)
		}
	}
	return out
}

// Mentioning lists the live processes whose command line contains s.
func Mentioning(s string) []string {
	return Find(func(cmd string) bool { return strings.Contains(cmd, s) })
}

// StartingWith lists the live processes whose command line begins with
// prefix (Mentioning would also find a parent whose arguments hold it).
func StartingWith(prefix string) []string {
	return Find(func(cmd string) bool { return strings.HasPrefix(cmd, prefix) })
}

// state is the state letter of process pid, "?" when it cannot be read.
func state(pid string) string {
	stat, _ := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) {
		return string(stat[i+2])
	}
	return "?"
}
