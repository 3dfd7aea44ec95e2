package proctrack

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mapchaos/mapchaos/internal/shell"
)

// EnvVar marks the environment of a tracked command where no cgroup is
// available.
const EnvVar = "MAPCHAOS_TRACK"

// The mechanisms a Tracker can use.
const (
	Cgroup      = "cgroup"
	Environment = "environment"
)

// Proc is a tracked process.
type Proc struct {
	Pid  int
	Argv []string // its command line, empty when it could not be read
	Name string   // its name in /proc/PID/stat (at most 15 bytes)
}

// String names the process: "pid 4242 `sleep 300`", or "pid 4242 (sleep)"
// when its command line could not be read.
func (p Proc) String() string {
	if len(p.Argv) == 0 && p.Name != "" {
		return fmt.Sprintf("pid %d (%s)", p.Pid, p.Name)
	}
	if len(p.Argv) == 0 {
		return fmt.Sprintf("pid %d", p.Pid)
	}
	return fmt.Sprintf("pid %d `%s`", p.Pid, shell.Join(p.Argv))
}

// Tracker follows the processes started with Cmd or Attr and all their
// descendants. Close it when they are done with.
type Tracker struct {
	dir   string // the cgroup's directory, "" in Environment mode
	fd    int    // the cgroup's directory, open, -1 without one
	token string // the value of EnvVar, "" in Cgroup mode
}

var counter atomic.Int64

// New returns a Tracker: one with a cgroup of its own if one can be made
// here, else one that marks the environment. It does not fail.
func New() *Tracker {
	n := counter.Add(1)
	if parent := cgroupParent(); parent != "" {
		dir := filepath.Join(parent, fmt.Sprintf("mapchaos-%d-%d", os.Getpid(), n))
		if err := os.Mkdir(dir, 0o755); err == nil {
			fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_RDONLY, 0)
			if err == nil {
				return &Tracker{dir: dir, fd: fd}
			}
			os.Remove(dir)
		}
	}
	return &Tracker{fd: -1, token: fmt.Sprintf("%d-%d-%d", os.Getpid(), n, time.Now().UnixNano())}
}

// Mechanism says how t tracks: Cgroup or Environment.
func (t *Tracker) Mechanism() string {
	if t.fd >= 0 {
		return Cgroup
	}
	return Environment
}

// Cmd makes cmd start tracked; call it before cmd.Start.
func (t *Tracker) Cmd(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = t.Attr(cmd.SysProcAttr, env)
}

// Attr makes a process started with sys and the returned environment
// (env, marked where needed) tracked: for os.StartProcess.
func (t *Tracker) Attr(sys *syscall.SysProcAttr, env []string) []string {
	if t.fd >= 0 {
		sys.UseCgroupFD, sys.CgroupFD = true, t.fd
		return env
	}
	return append(slices.Clone(env), EnvVar+"="+t.token)
}

// Procs lists the tracked processes that are alive (not zombies).
func (t *Tracker) Procs() []Proc {
	var pids []int
	if t.fd >= 0 {
		pids = cgroupPids(t.dir)
	} else {
		pids = t.markedPids()
	}
	var out []Proc
	for _, pid := range pids {
		if p, ok := alive(pid); ok {
			out = append(out, p)
		}
	}
	return out
}

// Kill kills every tracked process with SIGKILL, except the pids in spare
// (the command itself, which its starter reaps), and waits until they are
// gone (zombies at most). It returns the processes it found alive, spare
// ones left out.
func (t *Tracker) Kill(spare ...int) []Proc {
	var found []Proc
	seen := map[int]bool{}
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := 0
		for _, p := range t.Procs() {
			if slices.Contains(spare, p.Pid) {
				continue
			}
			left++
			if !seen[p.Pid] {
				seen[p.Pid] = true
				found = append(found, p)
			}
			if t.fd < 0 {
				t.killMarked(p.Pid)
			}
		}
		if left == 0 || time.Now().After(deadline) {
			return found
		}
		if t.fd >= 0 {
			t.killCgroup(spare)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Close kills what is left and removes the cgroup.
func (t *Tracker) Close() {
	t.Kill()
	if t.fd >= 0 {
		unix.Close(t.fd)
		t.fd = -1
		// The cgroup is empty once its last process is a zombie, but the
		// kernel may take a moment to say so.
		for i := 0; i < 100; i++ {
			if err := os.Remove(t.dir); err == nil || !errors.Is(err, syscall.EBUSY) {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// killCgroup kills the processes of t's cgroup: all at once with
// cgroup.kill (Linux 5.14) when none is spared, else one by one. A process
// cannot leave the cgroup, so killing by pid hits no other one.
func (t *Tracker) killCgroup(spare []int) {
	if len(spare) == 0 && os.WriteFile(filepath.Join(t.dir, "cgroup.kill"), []byte("1"), 0) == nil {
		return
	}
	for _, pid := range cgroupPids(t.dir) {
		if !slices.Contains(spare, pid) {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// killMarked sends SIGKILL to pid if it still carries t's mark: through a
// pidfd where the kernel has them, so that a pid reused in between is not
// hit.
func (t *Tracker) killMarked(pid int) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, unix.ENOSYS) && t.marked(pid) {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		return
	}
	defer unix.Close(fd)
	if t.marked(pid) {
		_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
	}
}

// markedPids lists the processes whose environment holds t's mark.
func (t *Tracker) markedPids() []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && pid != os.Getpid() && t.marked(pid) {
			out = append(out, pid)
		}
	}
	return out
}

func (t *Tracker) marked(pid int) bool {
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return false
	}
	mark := EnvVar + "=" + t.token
	for _, kv := range strings.Split(string(env), "\x00") {
		if kv == mark {
			return true
		}
	}
	return false
}

// Lookup returns the process pid, and false when it is gone, a zombie, or
// a thread rather than a process.
func Lookup(pid int) (Proc, bool) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil || !strings.Contains(string(status), fmt.Sprintf("\nTgid:\t%d\n", pid)) {
		return Proc{}, false
	}
	return alive(pid)
}

// alive returns pid's command line, and false when it is gone or a zombie.
func alive(pid int) (Proc, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Proc{}, false
	}
	open, end := strings.IndexByte(string(stat), '('), strings.LastIndexByte(string(stat), ')')
	if open < 0 || end < open || end+2 >= len(stat) || stat[end+2] == 'Z' || stat[end+2] == 'X' {
		return Proc{}, false
	}
	p := Proc{Pid: pid, Name: string(stat[open+1 : end])}
	// A process in the middle of an exec shows no command line for a
	// moment.
	for try := 0; try < 10 && len(p.Argv) == 0; try++ {
		if try > 0 {
			time.Sleep(time.Millisecond)
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && len(b) > 0 {
			p.Argv = strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		}
	}
	return p, true
}

// cgroupPids reads a cgroup's cgroup.procs.
func cgroupPids(dir string) []int {
	b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

var parent struct {
	once sync.Once
	dir  string
}

// cgroupParent is the cgroup v2 directory under which a Tracker makes its
// own, "" when there is none it can use: the harness's own cgroup, on the
// first cgroup2 mount where it can be written.
func cgroupParent() string {
	parent.once.Do(func() {
		own := ownCgroup()
		if own == "" {
			return
		}
		for _, m := range cgroup2Mounts() {
			dir := filepath.Join(m, own)
			if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err != nil {
				continue
			}
			if unix.Access(dir, unix.W_OK) == nil && probe(dir) {
				parent.dir = dir
				removeStale(dir)
				return
			}
		}
	})
	return parent.dir
}

// removeStale removes the cgroups under dir that trackers of a harness
// that is gone left (one killed with SIGKILL closes none), killing what
// they still hold: processes its updaters left running.
func removeStale(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		var pid int
		var rest string
		if _, err := fmt.Sscanf(e.Name(), "mapchaos-%d-%s", &pid, &rest); err != nil || pid == os.Getpid() {
			continue
		}
		if err := unix.Kill(pid, 0); err == nil || errors.Is(err, unix.EPERM) {
			continue // that harness is still running
		}
		stale := filepath.Join(dir, e.Name())
		_ = os.WriteFile(filepath.Join(stale, "cgroup.kill"), []byte("1"), 0)
		for i := 0; i < 100; i++ {
			if err := os.Remove(stale); err == nil || !errors.Is(err, syscall.EBUSY) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// ownCgroup is the harness's cgroup v2 path ("0::/path" in /proc/self/cgroup).
func ownCgroup() string {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return p
		}
	}
	return ""
}

// cgroup2Mounts lists where cgroup2 is mounted.
func cgroup2Mounts() []string {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[2] == "cgroup2" {
			out = append(out, f[1])
		}
	}
	return out
}

// probe tells whether a process can be started in a fresh cgroup under
// dir (it needs clone3 and write access to the cgroups on the way). It
// starts nothing: it asks for a program that does not exist, so the child
// fails at exec, after clone3 put it in the cgroup; an error other than
// "no such file" means it could not be put there.
func probe(dir string) bool {
	sub := filepath.Join(dir, fmt.Sprintf("mapchaos-%d-probe", os.Getpid()))
	if err := os.Mkdir(sub, 0o755); err != nil {
		return false
	}
	defer os.Remove(sub)
	fd, err := unix.Open(sub, unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_RDONLY, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	missing := filepath.Join(sub, "no-such-program")
	p, err := os.StartProcess(missing, []string{missing}, &os.ProcAttr{Env: []string{},
		Sys: &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}})
	if err == nil { // cannot happen; do not leave it behind
		p.Kill()
		p.Wait()
		return false
	}
	return errors.Is(err, os.ErrNotExist)
}
