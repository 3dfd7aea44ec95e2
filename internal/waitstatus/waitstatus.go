package waitstatus

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Describe says how a process ended, briefly: "exit 2", "killed by SIGBUS",
// "killed by SIGSEGV (core dumped)", "stopped by SIGSTOP".
func Describe(ws syscall.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit %d", ws.ExitStatus())
	case ws.Signaled():
		s := "killed by " + Signal(ws.Signal())
		if ws.CoreDump() {
			s += " (core dumped)"
		}
		return s
	case ws.Stopped():
		return "stopped by " + Signal(ws.StopSignal())
	}
	return fmt.Sprintf("wait status %#x", uint32(ws))
}

// Long says how a process ended in the words of a failed command's
// message: "exit status 2", "killed by SIGBUS (signal 7)".
func Long(ws syscall.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		s := fmt.Sprintf("killed by %s (signal %d", Signal(ws.Signal()), int(ws.Signal()))
		if ws.CoreDump() {
			s += ", core dumped"
		}
		return s + ")"
	}
	return Describe(ws)
}

// Of returns the wait status of a process that was waited for.
func Of(ps *os.ProcessState) syscall.WaitStatus {
	ws, _ := ps.Sys().(syscall.WaitStatus)
	return ws
}

// Signal names a signal: "SIGBUS", or "signal 77" for one without a name.
func Signal(s syscall.Signal) string {
	if n := unix.SignalName(s); n != "" {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}
