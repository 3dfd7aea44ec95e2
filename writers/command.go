package writers

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The placeholders of a command: whole argv elements that Exec replaces by
// paths before each run.
const (
	// NewArg is replaced by a fresh copy of the version to install, which
	// the command may read, move or delete.
	NewArg = "{new}"
	// TargetArg is replaced by the target: the path readers use.
	TargetArg = "{target}"
)

// DefaultTimeout bounds one run of an Exec command unless Exec.Timeout says
// otherwise.
const DefaultTimeout = 30 * time.Second

// DefaultOutputLimit is how many bytes of a command's output (stdout and
// stderr together) an Exec keeps for a CommandError unless
// Exec.OutputLimit says otherwise.
const DefaultOutputLimit = 16 << 10

// Exec is the user's own updater: a command run once per update, the
// writer strategy "exec". Build it with Command.
//
// For each update Exec copies the version to install to a fresh file in the
// target's directory (so that a rename of it is a rename within one file
// system), named <stem>.new-<seq><ext> (db.new-3.mmdb for db.mmdb), then
// runs Argv with every element "{new}" replaced by that file's path and
// every element "{target}" by the target's, both absolute. No shell is
// involved: write `sh -c '...' sh {new} {target}` for one. The command's
// environment is the harness's, plus Env, plus MAPCHAOS_NEW,
// MAPCHAOS_TARGET and MAPCHAOS_UPDATE (the update's sequence number), so a
// command without a {new} argument can still find the new version. Its
// stdin is empty; its working directory is Dir (default: the harness's).
//
// Before it starts the command Exec calls Update.Step("exec " + the command
// as written). While the command runs, it watches the target's directory
// with inotify and reports every change it sees there as a further step,
// such as "seen: db.mmdb written or truncated" or "seen: {new} renamed to
// db.mmdb", just after it happened: the command's system calls cannot be
// announced before they are made without tracing it (step mode), but these
// steps still time starting readers inside the update and tell what the
// command had done when a reader died.
//
// The update fails with a *CommandError, carrying the command's output,
// when the command cannot be started, exits with a non-zero status or is
// killed by a signal, runs longer than Timeout (default DefaultTimeout), or
// exits 0 without leaving the target holding exactly the new version. The
// command runs in its own process group; on a timeout, when ctx is done, and
// after it exits, the whole group is killed with SIGKILL and the command is
// reaped, so nothing it started outlives the update (a process that leaves
// the group with setsid escapes this). The command also gets SIGKILL if the
// harness dies.
//
// After each update Exec removes the {new} files that the command left
// behind, except one the target resolves to (`ln -sfn {new} {target}`).
type Exec struct {
	// Argv is the command: a program and its arguments, with "{target}"
	// as a whole element and usually "{new}" too.
	Argv []string
	// Timeout bounds one run of the command; 0 means DefaultTimeout.
	Timeout time.Duration
	// Dir is the working directory of the command; "" is the harness's.
	Dir string
	// Env is added to the harness's environment.
	Env []string
	// Output, when not nil, receives the whole output of every run as it
	// comes, between a line naming the update and the command and a line
	// saying how it ended. Runs are sequential, but the
	// same Output must not be shared by Execs running concurrently.
	Output io.Writer
	// OutputLimit is how many bytes of output a CommandError keeps (the
	// first quarter and the last three quarters); 0 means
	// DefaultOutputLimit.
	OutputLimit int
}

// Command returns an Exec that runs argv for each update, e.g.
//
//	writers.Command("./bin/update-geoip", "{new}", "{target}")
//	writers.Command("sh", "-c", `cp "$1" "$2.tmp" && mv "$2.tmp" "$2"`, "sh", "{new}", "{target}")
func Command(argv ...string) Exec {
	return Exec{Argv: append([]string(nil), argv...)}
}

// String renders the command as written, placeholders included, quoted for
// a POSIX shell where needed.
func (e Exec) String() string {
	parts := make([]string, len(e.Argv))
	for i, a := range e.Argv {
		parts[i] = shellQuote(a)
	}
	return strings.Join(parts, " ")
}

// HasNew reports whether the command has a {new} argument. One without it
// must find the new version in $MAPCHAOS_NEW, or install something else
// than the harness's version (which fails the update).
func (e Exec) HasNew() bool { return contains(e.Argv, NewArg) }

// Validate reports why the command cannot run, before anything is started:
// it is empty, has no {target} argument, has a placeholder inside a longer
// argument or as the program, has a negative timeout, or its program is not
// found (in PATH, or relative to Dir when it contains a slash) or is not
// executable.
func (e Exec) Validate() error {
	if len(e.Argv) == 0 || strings.TrimSpace(e.Argv[0]) == "" {
		return errors.New("the updater command is empty: want a program and its arguments, with {target} (and usually {new}) as arguments")
	}
	cmd := e.String()
	if e.Argv[0] == NewArg || e.Argv[0] == TargetArg {
		return fmt.Errorf("updater command %s: the program cannot be a placeholder: name the program first, e.g. cp {new} {target}", cmd)
	}
	for _, a := range e.Argv {
		for _, ph := range []string{NewArg, TargetArg} {
			if a != ph && strings.Contains(a, ph) {
				return fmt.Errorf("updater command %s: %s must be a whole argument, but %q contains it: placeholders are not expanded inside words; to build a word from it use sh -c, e.g. sh -c 'update --out=\"$2\" \"$1\"' sh {new} {target}",
					cmd, ph, a)
			}
		}
	}
	if !contains(e.Argv, TargetArg) {
		return fmt.Errorf("updater command %s has no {target} argument: it would not know which file to update (the harness never lets a command near a real file; {target} is a path in the run directory)", cmd)
	}
	if e.Timeout < 0 {
		return fmt.Errorf("updater command %s: timeout %s is negative", cmd, e.Timeout)
	}
	prog := e.Argv[0]
	if strings.Contains(prog, "/") && !filepath.IsAbs(prog) && e.Dir != "" {
		prog = filepath.Join(e.Dir, prog)
	}
	if _, err := exec.LookPath(prog); err != nil {
		return fmt.Errorf("updater command %s: program %q: %w", cmd, e.Argv[0], lookPathCause(err))
	}
	return nil
}

// lookPathCause rewords exec.LookPath's errors for a user.
func lookPathCause(err error) error {
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return errors.New("not found in $PATH")
	case errors.Is(err, os.ErrNotExist):
		return errors.New("no such file")
	case errors.Is(err, syscall.EISDIR):
		return errors.New("is a directory, not a program")
	case errors.Is(err, os.ErrPermission):
		return errors.New("not executable (permission denied)")
	}
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	return err
}

// CommandError is a failed run of an Exec command: a writer failure, not a
// verdict about the readers.
type CommandError struct {
	// Command is the command as written, placeholders included.
	Command string
	// Update is the update's sequence number.
	Update int
	// Status says how it ended: "exit status 1", "killed by SIGSEGV",
	// "timed out after 30s", "exit status 0, but ...".
	Status string
	// TimedOut is set when the command ran longer than its timeout.
	TimedOut bool
	// Elapsed is how long the command ran.
	Elapsed time.Duration
	// Output is the command's stdout and stderr, interleaved, bounded by
	// Exec.OutputLimit (the middle is cut out of a longer output).
	Output string
	// Err is the underlying error, if any (a start failure, ctx's error).
	Err error
}

func (e *CommandError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "updater command %s failed: %s (ran %s)", e.Command, e.Status, e.Elapsed.Round(time.Millisecond))
	if e.Err != nil && !strings.Contains(e.Status, e.Err.Error()) {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	out := strings.TrimRight(e.Output, "\n")
	if out == "" {
		b.WriteString("; it printed nothing")
		return b.String()
	}
	b.WriteString("; its output:")
	for _, l := range strings.Split(out, "\n") {
		b.WriteString("\n  | " + l)
	}
	return b.String()
}

func (e *CommandError) Unwrap() error { return e.Err }

// Update implements Writer: it runs the command once, as described on Exec.
func (e Exec) Update(ctx context.Context, u Update) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("update %s: %w", u.Target, err)
	}
	target, err := filepath.Abs(u.Target)
	if err != nil {
		return fmt.Errorf("update %s: %w", u.Target, err)
	}
	dir := filepath.Dir(target)
	argv, newPath := e.Expand(target, u.Seq)
	if err := copyFresh(u.Source, newPath); err != nil {
		return fmt.Errorf("update %s: make {new}: %w", u.Target, err)
	}
	defer tidyNew(target)
	env := append(os.Environ(), e.UpdateEnv(target, u.Seq)...)

	u.step("exec " + e.String())
	w := startWatch(dir, map[string]string{filepath.Base(newPath): NewArg}, u.step)
	if e.Output != nil {
		fmt.Fprintf(e.Output, "== update %d: %s\n", u.Seq, e.String())
	}
	r := e.run(ctx, argv, env)
	w.stop()
	if e.Output != nil {
		fmt.Fprintf(e.Output, "== update %d: %s after %s\n", u.Seq, r.status, r.elapsed.Round(time.Millisecond))
	}
	cerr := &CommandError{Command: e.String(), Update: u.Seq, Status: r.status, TimedOut: r.timedOut,
		Elapsed: r.elapsed, Output: r.out.String(), Err: r.err}
	if !r.ok {
		return cerr
	}
	if why := sameContent(target, u.Source); why != "" {
		cerr.Status = "exit status 0, but it did not install the new version: " + why
		return cerr
	}
	return nil
}

// Expand returns the command of update seq with {new} and {target}
// substituted, and the path of its {new} file (beside the target, so that a
// rename of it stays on one file system). target must be absolute.
func (e Exec) Expand(target string, seq int) (argv []string, newPath string) {
	newPath = filepath.Join(filepath.Dir(target), newName(filepath.Base(target), seq))
	argv = make([]string, len(e.Argv))
	for i, a := range e.Argv {
		switch a {
		case NewArg:
			argv[i] = newPath
		case TargetArg:
			argv[i] = target
		default:
			argv[i] = a
		}
	}
	return argv, newPath
}

// UpdateEnv is what the command of update seq finds in its environment
// besides the harness's own: e.Env, MAPCHAOS_NEW, MAPCHAOS_TARGET and
// MAPCHAOS_UPDATE.
func (e Exec) UpdateEnv(target string, seq int) []string {
	_, newPath := e.Expand(target, seq)
	return append(append([]string(nil), e.Env...),
		"MAPCHAOS_NEW="+newPath, "MAPCHAOS_TARGET="+target, fmt.Sprintf("MAPCHAOS_UPDATE=%d", seq))
}

// PlaceNew puts a fresh copy of source where update seq's {new} goes and
// returns its path (for step mode, which runs the command itself).
func (e Exec) PlaceNew(source, target string, seq int) (string, error) {
	_, newPath := e.Expand(target, seq)
	if err := copyFresh(source, newPath); err != nil {
		return "", fmt.Errorf("make {new}: %w", err)
	}
	return newPath, nil
}

// ran is the end of one run of a command.
type ran struct {
	ok       bool // exit status 0
	status   string
	timedOut bool
	elapsed  time.Duration
	out      *bounded
	err      error
}

// run starts argv in its own process group and waits for it, the timeout or
// ctx. Whatever happens, it kills what is left of the group and reaps the
// command before it returns.
func (e Exec) run(ctx context.Context, argv, env []string) ran {
	limit := e.OutputLimit
	if limit <= 0 {
		limit = DefaultOutputLimit
	}
	timeout := e.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	r := ran{out: newBounded(limit)}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = e.Dir, env
	// One writer for both streams: os/exec then uses one pipe, so the
	// output keeps its order.
	var out io.Writer = r.out
	if e.Output != nil {
		out = io.MultiWriter(r.out, e.Output)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// A process that escaped the group (setsid) may hold the output pipe
	// open; stop reading it this long after the command exited.
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		r.status, r.err = "could not start", err
		return r
	}
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() { defer close(exited); waitExited(pid) }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-exited:
	case <-timer.C:
		r.timedOut = true
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-exited
	case <-ctx.Done():
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-exited
	}
	r.elapsed = time.Since(start)
	// The command is a zombie now: its pid, which is the group's id,
	// cannot be reused yet, so this reaches only what it left running.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	werr := cmd.Wait()
	var xe *exec.ExitError
	switch {
	case r.timedOut:
		r.status = fmt.Sprintf("timed out after %s (--writer-timeout): killed its process group", timeout)
	case ctx.Err() != nil:
		r.status, r.err = "stopped: the race was cancelled", ctx.Err()
	case werr == nil, errors.Is(werr, exec.ErrWaitDelay):
		r.ok, r.status = true, "exit status 0"
	case errors.As(werr, &xe):
		r.status = describeExit(xe.ProcessState)
	default:
		r.status, r.err = "wait failed", werr
	}
	return r
}

// waitExited blocks until the process pid has exited, without reaping it.
func waitExited(pid int) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

func describeExit(ps *os.ProcessState) string {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Sprintf("killed by %s (signal %d)", unix.SignalName(ws.Signal()), int(ws.Signal()))
	}
	return fmt.Sprintf("exit status %d", ps.ExitCode())
}

// newName is the name of the {new} file of update seq for the target base:
// db.mmdb -> db.new-3.mmdb.
func newName(base string, seq int) string {
	ext := filepath.Ext(base)
	return fmt.Sprintf("%s.new-%d%s", strings.TrimSuffix(base, ext), seq, ext)
}

// isNew reports whether name is a {new} file of the target base.
func isNew(base, name string) bool {
	ext := filepath.Ext(base)
	rest, ok := strings.CutPrefix(name, strings.TrimSuffix(base, ext)+".new-")
	return ok && strings.HasSuffix(rest, ext) && len(rest) > len(ext)
}

// copyFresh copies src to dst, replacing a leftover dst.
func copyFresh(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(dst)
		}
	}()
	_, err = io.Copy(out, in)
	return err
}

// tidyNew removes the {new} files left in the target's directory, except
// the one the target resolves to.
func tidyNew(target string) {
	dir, base := filepath.Dir(target), filepath.Base(target)
	live, _ := filepath.EvalSymlinks(target)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if isNew(base, e.Name()) && p != live {
			os.Remove(p)
		}
	}
}

// sameContent returns "" when the file target resolves to holds exactly the
// bytes of src, and what differs otherwise.
func sameContent(target, src string) string {
	t, err := os.Open(target)
	if err != nil {
		return fmt.Sprintf("{target}: %v", errors.Unwrap(err))
	}
	defer t.Close()
	s, err := os.Open(src)
	if err != nil {
		return fmt.Sprintf("the new version: %v", err)
	}
	defer s.Close()
	ti, err := t.Stat()
	if err != nil {
		return fmt.Sprintf("{target}: %v", err)
	}
	si, err := s.Stat()
	if err != nil {
		return fmt.Sprintf("the new version: %v", err)
	}
	if !ti.Mode().IsRegular() {
		return fmt.Sprintf("{target} is a %s, not a regular file", ti.Mode().Type())
	}
	if ti.Size() != si.Size() {
		return fmt.Sprintf("{target} holds %d bytes, the new version %d", ti.Size(), si.Size())
	}
	const n = 1 << 20
	tb, sb := make([]byte, n), make([]byte, n)
	for off := int64(0); ; off += n {
		k1, err1 := io.ReadFull(t, tb)
		k2, _ := io.ReadFull(s, sb)
		if i := firstDiff(tb[:k1], sb[:k2]); i >= 0 {
			return fmt.Sprintf("{target} differs from the new version at byte %d", off+int64(i))
		}
		if err1 != nil {
			return ""
		}
	}
}

func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func contains(argv []string, s string) bool {
	for _, a := range argv {
		if a == s {
			return true
		}
	}
	return false
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=,:@+{}%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// bounded keeps the first quarter and the last three quarters of what is
// written to it, up to its limit, and counts what it drops in between.
type bounded struct {
	mu      sync.Mutex
	head    []byte
	tail    []byte // ring of the last bytes
	pos     int    // next write position in tail once it is full
	full    bool
	dropped int64
	headCap int
	tailCap int
}

func newBounded(limit int) *bounded {
	h := max(limit/4, 1)
	return &bounded{headCap: h, tailCap: max(limit-h, 1)}
}

func (b *bounded) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	if room := b.headCap - len(b.head); room > 0 {
		k := min(room, len(p))
		b.head = append(b.head, p[:k]...)
		p = p[k:]
	}
	for len(p) > 0 {
		if !b.full {
			k := min(b.tailCap-len(b.tail), len(p))
			b.tail = append(b.tail, p[:k]...)
			p = p[k:]
			if len(b.tail) == b.tailCap {
				b.full = true
			}
			continue
		}
		k := min(b.tailCap-b.pos, len(p))
		copy(b.tail[b.pos:], p[:k])
		b.dropped += int64(k)
		b.pos = (b.pos + k) % b.tailCap
		p = p[k:]
	}
	return n, nil
}

// String returns what was kept, with a line saying how much was cut out.
func (b *bounded) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var s strings.Builder
	s.Write(b.head)
	if b.dropped > 0 {
		fmt.Fprintf(&s, "\n[... %d bytes of output cut ...]\n", b.dropped)
		s.Write(b.tail[b.pos:])
		s.Write(b.tail[:b.pos])
	} else {
		s.Write(b.tail)
	}
	return s.String()
}

// SplitCommand splits a command line into words as a POSIX shell would, but
// expands nothing: words are separated by unquoted blanks; 'single quotes'
// keep everything literally; "double quotes" keep everything but \" \\ \$
// \` and backslash-newline; a backslash outside quotes keeps the next
// character. $, ` and the operators | & ; < > ( ) are refused unless quoted
// or escaped: no shell runs the command, so they would reach the program as
// plain arguments; wrap the command in sh -c '...' to use them. ~ and glob
// characters stay literal. An empty line gives no words.
func SplitCommand(line string) ([]string, error) {
	var (
		words  []string
		cur    strings.Builder
		inWord bool
	)
	refuse := func(i int, what, fate string) error {
		return fmt.Errorf("%s at column %d of %q: no shell runs the command, so it would not be %s; quote it to pass it literally, or run the command with sh -c '...' sh {new} {target}",
			what, i+1, line, fate)
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\\':
			if i+1 >= len(line) {
				return nil, fmt.Errorf("%q ends with a lone backslash", line)
			}
			i++
			if line[i] != '\n' {
				cur.WriteByte(line[i])
				inWord = true
			}
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote at column %d of %q", i+1, line)
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			open := i
			inWord = true
			for i++; ; i++ {
				if i >= len(line) {
					return nil, fmt.Errorf("unterminated double quote at column %d of %q", open+1, line)
				}
				d := line[i]
				if d == '"' {
					break
				}
				if d == '\\' && i+1 < len(line) && strings.IndexByte("\\\"$`\n", line[i+1]) >= 0 {
					i++
					if line[i] != '\n' {
						cur.WriteByte(line[i])
					}
					continue
				}
				if d == '$' || d == '`' {
					return nil, refuse(i, string(d)+" in double quotes", "expanded")
				}
				cur.WriteByte(d)
			}
		case c == '$' || c == '`':
			return nil, refuse(i, "unquoted "+string(c), "expanded")
		case strings.IndexByte("|&;<>()", c) >= 0:
			op := string(c)
			if i+1 < len(line) && strings.IndexByte("|&<>", line[i+1]) >= 0 {
				op += string(line[i+1])
			}
			return nil, refuse(i, "unquoted "+op, "interpreted")
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// watchMask is what the watch of the target's directory reports: every
// change of a name or of a file's bytes, not reads.
const watchMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MODIFY | unix.IN_ATTRIB |
	unix.IN_CLOSE_WRITE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO

// watch reports the changes inotify sees in one directory as steps.
type watch struct {
	fd, wake int // the inotify descriptor, an eventfd that ends the loop
	alias    map[string]string
	step     func(string)
	done     chan struct{}
	last     string            // the last step reported, not repeated
	moved    map[uint32]string // IN_MOVED_FROM names by cookie
}

// startWatch watches dir and calls step for each change, naming the files
// in alias by their alias. It returns nil (a watch that does nothing) if
// inotify is not available.
func startWatch(dir string, alias map[string]string, step func(string)) *watch {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil
	}
	if _, err := unix.InotifyAddWatch(fd, dir, watchMask); err != nil {
		unix.Close(fd)
		return nil
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(fd)
		return nil
	}
	w := &watch{fd: fd, wake: wake, alias: alias, step: step, done: make(chan struct{}), moved: map[uint32]string{}}
	go w.loop()
	return w
}

// stop reports what is still queued (everything the command did, once it
// has exited) and ends the watch. No step is reported after stop returns.
func (w *watch) stop() {
	if w == nil {
		return
	}
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	_, _ = unix.Write(w.wake, one)
	<-w.done
	unix.Close(w.fd)
	unix.Close(w.wake)
}

func (w *watch) loop() {
	defer close(w.done)
	buf := make([]byte, 64<<10)
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}, {Fd: int32(w.wake), Events: unix.POLLIN}}
	for {
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds, -1); err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		stopping := fds[1].Revents != 0
		for {
			n, err := unix.Read(w.fd, buf)
			if err != nil || n <= 0 {
				break
			}
			w.parse(buf[:n])
		}
		if stopping {
			for _, name := range w.moved {
				w.report("seen: " + w.name(name) + " moved out of the directory")
			}
			return
		}
	}
}

// parse reports the events in b (struct inotify_event, in native order).
func (w *watch) parse(b []byte) {
	const head = unix.SizeofInotifyEvent
	for len(b) >= head {
		mask := binary.NativeEndian.Uint32(b[4:8])
		cookie := binary.NativeEndian.Uint32(b[8:12])
		n := int(binary.NativeEndian.Uint32(b[12:16]))
		if len(b) < head+n {
			return
		}
		name := string(bytes.TrimRight(b[head:head+n], "\x00"))
		b = b[head+n:]
		if name == "" {
			continue // the directory itself
		}
		switch {
		case mask&unix.IN_MOVED_FROM != 0:
			w.moved[cookie] = name
			continue
		case mask&unix.IN_MOVED_TO != 0:
			if from, ok := w.moved[cookie]; ok {
				delete(w.moved, cookie)
				w.report("seen: " + w.name(from) + " renamed to " + w.name(name))
			} else {
				w.report("seen: " + w.name(name) + " moved in")
			}
			continue
		}
		for _, what := range []struct {
			bit  uint32
			text string
		}{
			{unix.IN_CREATE, "created"},
			{unix.IN_MODIFY, "written or truncated"},
			{unix.IN_ATTRIB, "attributes changed"},
			{unix.IN_CLOSE_WRITE, "closed after writing"},
			{unix.IN_DELETE, "removed"},
		} {
			if mask&what.bit != 0 {
				w.report("seen: " + w.name(name) + " " + what.text)
			}
		}
	}
}

func (w *watch) name(n string) string {
	if a, ok := w.alias[n]; ok {
		return a
	}
	return n
}

// report calls step with s unless s was the last step reported: a file
// written 256 KiB at a time is one step, not hundreds.
func (w *watch) report(s string) {
	if s == w.last {
		return
	}
	w.last = s
	w.step(s)
}
