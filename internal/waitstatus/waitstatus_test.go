package waitstatus

import (
	"errors"
	"os/exec"
	"syscall"
	"testing"
)

// status runs sh -c script and returns its wait status.
func status(t *testing.T, script string) syscall.WaitStatus {
	t.Helper()
	err := exec.Command("sh", "-c", script).Run()
	var xe *exec.ExitError
	if err != nil && !errors.As(err, &xe) {
		t.Fatal(err)
	}
	if xe == nil {
		return 0
	}
	return Of(xe.ProcessState)
}

func TestDescribe(t *testing.T) {
	for _, c := range []struct{ script, short, long string }{
		{"exit 0", "exit 0", "exit status 0"},
		{"exit 2", "exit 2", "exit status 2"},
		{"ulimit -c 0; kill -BUS $$", "killed by SIGBUS", "killed by SIGBUS (signal 7)"},
		{"kill -KILL $$", "killed by SIGKILL", "killed by SIGKILL (signal 9)"},
	} {
		ws := status(t, c.script)
		if got := Describe(ws); got != c.short {
			t.Errorf("%s: Describe = %q, want %q", c.script, got, c.short)
		}
		if got := Long(ws); got != c.long {
			t.Errorf("%s: Long = %q, want %q", c.script, got, c.long)
		}
	}
	if got := Signal(syscall.Signal(77)); got != "signal 77" {
		t.Errorf("Signal(77) = %q", got)
	}
}
