// Package engine races one writer strategy against one reader strategy in
// real processes on a real file system, and classifies what the readers
// lived through: the race mode of package harness.
//
// For one combination Run lays out a private run directory, installs
// version A as the target, starts the running readers (child processes
// that open the target before any update) and waits until each says ready,
// then lets the writer alternate the target A -> B -> A ... For every update
// it also starts "starting" readers that open the target at a step of the
// update chosen by the seed. Afterwards it stops every reader and classifies
// each from its wait status AND its stderr (a Go program that faults exits 2
// after printing "fatal error: fault"; a foreign one dies by the signal), its
// counters and its events, by the one rule of verdicts.Judge. A reader that
// stops making progress for StuckAfter is stuck: it gets SIGQUIT (a Go
// reader dumps its goroutines) and then SIGKILL. A reader child says in its
// ticks when it is inside an open or reload, which moves no counter while
// it reads a large file whole: there it may take StuckAfter plus the time
// to read the larger version at SlowRead, and as long again from the start
// of that open to stop when asked; the default ReadyTimeout is 10s plus
// that time. A foreign reader is driven by
// readers.ForeignProcess, the driver step mode uses too.
//
// Every child runs in its own process group with a parent-death signal and
// is killed and reaped on every path: success, failure, timeout or a
// cancelled context (Ctrl-C). Nothing outside the run directory is written.
package engine
