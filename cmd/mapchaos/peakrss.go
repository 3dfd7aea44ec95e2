package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// peakRSSEnv, when set to anything, makes `mapchaos matrix` and `mapchaos
// check` print their own peak resident set size (VmHWM of the harness
// process, not of its reader and writer children) on stderr as they exit:
// "mapchaos: peak RSS 123456 kB (VmHWM)". scripts/bench-memory reads it.
const peakRSSEnv = "MAPCHAOS_PEAK_RSS"

// reportPeakRSS prints the line of peakRSSEnv when it is set and cmd is one
// that runs the harness itself.
func reportPeakRSS(w io.Writer, cmd string) {
	if os.Getenv(peakRSSEnv) == "" || (cmd != "matrix" && cmd != "check") {
		return
	}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		fmt.Fprintf(w, "mapchaos: peak RSS unknown: %v\n", err)
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			fmt.Fprintf(w, "mapchaos: peak RSS %s (VmHWM)\n", strings.TrimSpace(v))
			return
		}
	}
	fmt.Fprintln(w, "mapchaos: peak RSS unknown: no VmHWM in /proc/self/status")
}
