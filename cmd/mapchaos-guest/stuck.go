package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// reportStuck says, before a timed-out step is killed, where it was: the
// kernel stack of every task in uninterruptible sleep (state D: a fault or
// a call waiting on a file system, the usual cause of a hang on NFS), then
// the goroutines of the step's Go programs (SIGQUIT to its process group:
// the Go runtime dumps every goroutine and exits). A hang is then a
// finding with evidence, not only a timeout.
func reportStuck(w io.Writer, name string, pgid int) {
	fmt.Fprintf(w, "step %s timed out; tasks in uninterruptible sleep (D):\n", name)
	if n := dumpBlocked(w); n == 0 {
		fmt.Fprintln(w, "  none")
	}
	fmt.Fprintf(w, "step %s: SIGQUIT to its process group for the goroutines of its Go programs\n", name)
	_ = unix.Kill(-pgid, unix.SIGQUIT)
	time.Sleep(3 * time.Second)
}

// dumpBlocked writes pid, name, wait channel and kernel stack of each task
// in state D, and returns how many there were.
func dumpBlocked(w io.Writer) int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		fmt.Fprintf(w, "  /proc: %v\n", err)
		return 0
	}
	n := 0
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		tasks, _ := filepath.Glob(filepath.Join("/proc", e.Name(), "task", "*"))
		for _, t := range tasks {
			if taskState(t) != 'D' {
				continue
			}
			n++
			comm, _ := os.ReadFile(filepath.Join(t, "comm"))
			wchan, _ := os.ReadFile(filepath.Join(t, "wchan"))
			fmt.Fprintf(w, "  task %s (%s) waiting in %s:\n", filepath.Base(t), strings.TrimSpace(string(comm)), wchan)
			stack, err := os.ReadFile(filepath.Join(t, "stack"))
			if err != nil {
				stack = []byte("(no stack: " + err.Error() + ")\n")
			}
			for _, l := range strings.Split(strings.TrimSpace(string(stack)), "\n") {
				fmt.Fprintf(w, "    %s\n", l)
			}
		}
	}
	return n
}

// taskState is the state letter of /proc/PID/task/TID/stat (after the
// command name, which may hold spaces and parentheses).
func taskState(dir string) byte {
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		return 0
	}
	return b[i+2]
}
