package proctrack

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mapchaos/mapchaos/internal/proctest"
)

// trackers returns the trackers to test: the one New gives here, and one
// that marks the environment (the fallback) when New gave a cgroup.
func trackers(t *testing.T) []*Tracker {
	t.Helper()
	tr := New()
	t.Logf("New() tracks by %s here", tr.Mechanism())
	out := []*Tracker{tr}
	if tr.Mechanism() == Cgroup {
		out = append(out, &Tracker{fd: -1, token: fmt.Sprintf("test-%d", time.Now().UnixNano())})
	}
	return out
}

func TestKillsWhatEscapedTheCommand(t *testing.T) {
	for i, tr := range trackers(t) {
		t.Run(tr.Mechanism(), func(t *testing.T) {
			defer tr.Close()
			marker := fmt.Sprintf("300.%d%d", time.Now().UnixNano()%100000, i)
			cmd := exec.Command("sh", "-c", "setsid sleep "+marker+" >/dev/null 2>&1 < /dev/null & sleep "+marker+"1 >/dev/null 2>&1 &")
			tr.Cmd(cmd)
			if err := cmd.Run(); err != nil {
				t.Fatal(err)
			}
			var procs []Proc
			for range 200 { // the shell has exited; its children may still be starting
				if procs = tr.Procs(); len(procs) == 2 && strings.Contains(procs[0].String()+procs[1].String(), "sleep "+marker+"1`") {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			if len(procs) != 2 {
				t.Fatalf("Procs() = %v, want the two sleeps", procs)
			}
			killed := tr.Kill()
			if len(killed) != 2 || !strings.HasPrefix(killed[0].String(), "pid ") {
				t.Errorf("Kill() = %v, want the two sleeps", killed)
			}
			if left := proctest.Mentioning("sleep " + marker); len(left) > 0 {
				t.Errorf("left running: %v", left)
			}
			if again := tr.Procs(); len(again) > 0 {
				t.Errorf("Procs() after Kill = %v", again)
			}
		})
	}
}

func TestSparesTheCommand(t *testing.T) {
	for _, tr := range trackers(t) {
		t.Run(tr.Mechanism(), func(t *testing.T) {
			defer tr.Close()
			cmd := exec.Command("sleep", "300.4242")
			tr.Cmd(cmd)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			defer cmd.Process.Kill()
			if got := tr.Kill(cmd.Process.Pid); len(got) != 0 {
				t.Errorf("Kill(spare) = %v, want nothing", got)
			}
			if len(proctest.Mentioning("sleep 300.4242")) != 1 {
				t.Errorf("the spared command is gone")
			}
		})
	}
}

func TestString(t *testing.T) {
	p := Proc{Pid: 4242, Argv: []string{"sleep", "300"}}
	if got := p.String(); got != "pid 4242 `sleep 300`" {
		t.Errorf("String() = %q", got)
	}
	if got := (Proc{Pid: 7}).String(); got != "pid 7" {
		t.Errorf("String() = %q", got)
	}
}

func TestLookup(t *testing.T) {
	cmd := exec.Command("sleep", "300.5151")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	p, ok := Lookup(cmd.Process.Pid)
	if !ok || p.String() != fmt.Sprintf("pid %d `sleep 300.5151`", cmd.Process.Pid) || p.Name != "sleep" {
		t.Errorf("Lookup(sleep) = %v, %v", p, ok)
	}
	cmd.Process.Kill()
	cmd.Process.Wait()
	if p, ok := Lookup(cmd.Process.Pid); ok {
		t.Errorf("Lookup(a reaped process) = %v", p)
	}
}

// BenchmarkTrack is what tracking adds to one run of a command: a tracker
// made, the command (true) started in it and waited for, what is left
// killed, the tracker closed.
func BenchmarkTrack(b *testing.B) {
	for _, mode := range []string{"untracked", Cgroup, Environment} {
		b.Run(mode, func(b *testing.B) {
			for b.Loop() {
				cmd := exec.Command("true")
				var tr *Tracker
				switch mode {
				case Cgroup:
					if tr = New(); tr.Mechanism() != Cgroup {
						b.Skip("no cgroup here")
					}
				case Environment:
					tr = &Tracker{fd: -1, token: "bench"}
				}
				if tr != nil {
					tr.Cmd(cmd)
				}
				if err := cmd.Run(); err != nil {
					b.Fatal(err)
				}
				if tr != nil {
					tr.Kill(cmd.Process.Pid)
					tr.Close()
				}
			}
		})
	}
}

func TestRemovesTheCgroupsOfAHarnessThatIsGone(t *testing.T) {
	tr := New()
	defer tr.Close()
	if tr.Mechanism() != Cgroup {
		t.Skip("no cgroup here")
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	stale := &Tracker{dir: filepath.Join(cgroupParent(), fmt.Sprintf("mapchaos-%d-1", gone.Process.Pid))}
	if err := os.Mkdir(stale.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(stale.dir, unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	stale.fd = fd
	cmd := exec.Command("sleep", "300.3131")
	stale.Cmd(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait()
	unix.Close(fd)
	removeStale(cgroupParent())
	if _, err := os.Stat(stale.dir); !os.IsNotExist(err) {
		t.Errorf("%s is still there: %v", stale.dir, err)
	}
	if left := proctest.Mentioning("sleep 300.3131"); len(left) > 0 {
		t.Errorf("left running: %v", left)
	}
}
