package writers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mapchaos/mapchaos/internal/shell"
)

// The placeholders of a command, which Exec replaces by absolute paths
// before each run, wherever they appear in an argument: "{new}",
// "if={new}" and "--out={target}.tmp" are all expanded, as xargs -I and
// find -exec do. No shell runs the command, so a path is never split or
// interpreted: it becomes part of the argument as it is.
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
// runs Argv with every "{new}" in it replaced by that file's path and
// every "{target}" by the target's, both absolute (see NewArg). No shell is
// involved: write `sh -c '...' sh {new} {target}` for one. The command's
// environment is the harness's, plus Env, plus MAPCHAOS_NEW,
// MAPCHAOS_TARGET and MAPCHAOS_UPDATE (the update's sequence number), so a
// command without {new} can still find the new version. Its stdin is
// empty; its working directory is Dir (default: the harness's).
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
// command runs in its own process group, and every process it starts is
// tracked (internal/proctrack: a cgroup where one can be made, else a mark
// in the environment), even one that leaves the group with setsid. On a
// timeout, when ctx is done, and after it exits, every one of them is
// killed with SIGKILL and the command is reaped, so nothing it started
// outlives the update; each process that was still running after the
// command ended is named to Update.Leftover. The command also gets SIGKILL
// if the harness dies.
//
// After each update Exec removes the {new} files that the command left
// behind, except one the target resolves to (`ln -sfn {new} {target}`).
type Exec struct {
	// Argv is the command: a program and its arguments, with "{target}"
	// in at least one argument and usually "{new}" too.
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
//	writers.Command("dd", "if={new}", "of={target}", "conv=notrunc")
//	writers.Command("sh", "-c", `cp "$1" "$2.tmp" && mv "$2.tmp" "$2"`, "sh", "{new}", "{target}")
func Command(argv ...string) Exec {
	return Exec{Argv: append([]string(nil), argv...)}
}

// String renders the command as written, placeholders included, quoted for
// a POSIX shell where needed.
func (e Exec) String() string { return shell.Join(e.Argv) }

// HasNew reports whether an argument of the command holds {new}. One
// without it must find the new version in $MAPCHAOS_NEW, or install
// something else than the harness's version (which fails the update).
func (e Exec) HasNew() bool { return mentions(e.Argv[min(1, len(e.Argv)):], NewArg) }

// Validate reports why the command cannot run, before anything is started:
// it is empty, no argument holds {target}, its program is or holds a
// placeholder, its timeout is negative, or its program is not found (in
// PATH, or relative to Dir when it contains a slash) or is not executable.
func (e Exec) Validate() error {
	if len(e.Argv) == 0 || strings.TrimSpace(e.Argv[0]) == "" {
		return errors.New("the updater command is empty: want a program and its arguments, with {target} (and usually {new}) in them")
	}
	cmd := e.String()
	if strings.Contains(e.Argv[0], NewArg) || strings.Contains(e.Argv[0], TargetArg) {
		return fmt.Errorf("updater command %s: the program cannot be a placeholder: name the program first, e.g. cp {new} {target}", cmd)
	}
	if !mentions(e.Argv[1:], TargetArg) {
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

// mentions reports whether one of args holds s.
func mentions(args []string, s string) bool {
	for _, a := range args {
		if strings.Contains(a, s) {
			return true
		}
	}
	return false
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
	p, err := e.Prepare(u.Source, u.Target, u.Seq)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("update %s: %w", u.Target, err)
	}
	if err := p.Place(); err != nil {
		return fmt.Errorf("update %s: %w", u.Target, err)
	}
	u.step("exec " + e.String())
	w := startWatch(filepath.Dir(p.target), map[string]string{filepath.Base(p.New): NewArg}, u.step)
	if e.Output != nil {
		fmt.Fprintf(e.Output, "== update %d: %s\n", u.Seq, e.String())
	}
	r := e.run(ctx, p)
	w.stop()
	if e.Output != nil {
		fmt.Fprintf(e.Output, "== update %d: %s after %s\n", u.Seq, r.status, r.elapsed.Round(time.Millisecond))
	}
	for _, l := range r.leftovers {
		if u.Leftover != nil {
			u.Leftover(l)
		}
		if e.Output != nil {
			fmt.Fprintf(e.Output, "== update %d: %s\n", u.Seq, l)
		}
	}
	output := r.out.String()
	ce := p.finish(r.ok, output)
	if !r.ok {
		ce = &CommandError{Command: e.String(), Update: u.Seq, Status: r.status, Output: output, Err: r.err}
	}
	if ce == nil {
		return nil
	}
	ce.TimedOut, ce.Elapsed = r.timedOut, r.elapsed
	return ce
}
