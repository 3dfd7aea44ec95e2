package readers

import (
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// dumpEveryThreadOnQuit makes a SIGQUIT dump the goroutine that every thread
// is running, and returns the function that undoes it.
//
// The harness sends SIGQUIT to a stuck reader for evidence of where it is
// stuck. Go's own SIGQUIT dump shows only the stack of the thread the signal
// landed on: the goroutine that is stuck, running on another thread, shows
// as "goroutine running on other thread; stack unavailable". With
// GOTRACEBACK=crash the runtime relays the signal to every thread, and each
// prints its own goroutine; but set from the start, crash would also turn a
// memory fault's "fatal error: fault" (exit 2, as a service dies) into an
// abort. So crash is set only once the SIGQUIT has come, and the signal is
// raised again for the runtime to dump. Core dumps are switched off first:
// the trace is the evidence, and a reader's core holds its database.
func dumpEveryThreadOnQuit() (stop func()) {
	quit := make(chan os.Signal, 1)
	done := make(chan struct{})
	signal.Notify(quit, syscall.SIGQUIT)
	go func() {
		select {
		case <-quit:
		case <-done:
			return
		}
		_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{})
		debug.SetTraceback("crash")
		signal.Reset(syscall.SIGQUIT)
		_ = syscall.Kill(os.Getpid(), syscall.SIGQUIT)
	}()
	return func() {
		signal.Stop(quit)
		close(done)
	}
}
