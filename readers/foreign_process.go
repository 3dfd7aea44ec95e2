package readers

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mapchaos/mapchaos/crashes"
	"github.com/mapchaos/mapchaos/internal/bounded"
	"github.com/mapchaos/mapchaos/internal/lines"
	"github.com/mapchaos/mapchaos/internal/proctrack"
)

// ErrBadForeign marks a foreign reader that does not follow the line
// protocol before it has started properly: it never says "ready", says
// something else, or ends first.
var ErrBadForeign = errors.New("reader does not follow the line protocol")

// ForeignAnswer is one JSON line a foreign reader sends: the record for a
// lookup (null: not found), an error, or a reload's confirmation.
type ForeignAnswer struct {
	IP       string          `json:"ip"`
	Record   json.RawMessage `json:"record"`
	Error    string          `json:"error"`
	Reloaded bool            `json:"reloaded"`
}

// ForeignStrategy opens the target by starting a foreign reader process on
// it (argv, with the element "{target}" replaced by the path) and waiting
// for its "ready". The DB it returns is that process, asked one request at
// a time over the line protocol (see ForeignProcess): step mode probes
// foreign readers with it, and race mode drives them with it, reloads
// included.
type ForeignStrategy struct {
	Argv []string
	// Ready bounds the wait for "ready" (default 10s); Answer the wait
	// for each answer (default 10s).
	Ready, Answer time.Duration
	// Stderr, when not nil, also gets what the process writes on stderr
	// (a ForeignProcess keeps only the end of it).
	Stderr io.Writer
}

// Open implements Strategy.
func (s ForeignStrategy) Open(path string) (DB, error) {
	return StartForeign(s, path)
}

// ForeignProcess is one foreign reader process driven from the calling
// process, one request at a time. It is a DB whose Lookup fills a
// *json.RawMessage; LookupJSON returns the record directly.
type ForeignProcess struct {
	cmd    *exec.Cmd
	stdin  *os.File
	stdout *os.File
	lines  *bufio.Reader
	stderr *bounded.Buffer
	track  *proctrack.Tracker // every process it starts
	answer time.Duration

	mu   sync.Mutex
	died *DiedError // set once the process has ended or was killed
}

// DiedError says that a foreign reader process ended while the harness
// talked to it: killed by a signal (SIGBUS in a mapped read), exited, broke
// the protocol, or stopped answering.
type DiedError struct {
	// Status is how it ended: "killed by SIGBUS", "exited with status 1",
	// or what the harness did to it and why.
	Status string
	// Signal is the signal that killed it, 0 if none did.
	Signal syscall.Signal
	// Stuck: it stopped answering and the harness killed it.
	Stuck bool
	// BeforeReady: it ended before it said "ready"; the error then also
	// matches ErrBadForeign.
	BeforeReady bool
	// Broke: it broke the line protocol after "ready" and was killed.
	Broke bool
	// Stderr is the end of what it wrote on stderr (its last 2 KiB).
	Stderr string
	// State is its wait status, nil when it could not be read.
	State *os.ProcessState
	// Leftovers name the processes it started that outlived it (killed).
	Leftovers []string
}

func (e *DiedError) Error() string {
	s := "reader process " + e.Status
	if e.BeforeReady {
		s = ErrBadForeign.Error() + ": " + e.Status
	}
	if last := strings.TrimSpace(lines.Last(e.Stderr, 1)); last != "" {
		s += "; stderr ends: " + last
	}
	return s
}

// Unwrap makes a death before "ready" match ErrBadForeign.
func (e *DiedError) Unwrap() error {
	if e.BeforeReady {
		return ErrBadForeign
	}
	return nil
}

// StartForeign starts the foreign reader s on path and waits for its
// "ready". A process that ends first, says something else, or nothing
// within s.Ready (it is killed then) is a *DiedError with BeforeReady set,
// which matches ErrBadForeign.
func StartForeign(s ForeignStrategy, path string) (*ForeignProcess, error) {
	if len(s.Argv) == 0 {
		return nil, errors.New("foreign reader: empty command")
	}
	argv := make([]string, len(s.Argv))
	for i, a := range s.Argv {
		if a == "{target}" {
			a = path
		}
		argv[i] = a
	}
	ready, answer := s.Ready, s.Answer
	if ready <= 0 {
		ready = 10 * time.Second
	}
	if answer <= 0 {
		answer = 10 * time.Second
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("foreign reader: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("foreign reader: %w", err)
	}
	p := &ForeignProcess{stdin: inW, stdout: outR, lines: bufio.NewReader(outR), stderr: bounded.New(0, 2<<10), answer: answer,
		track: proctrack.New()}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = inR, outW, p.stderr
	if s.Stderr != nil {
		p.cmd.Stderr = io.MultiWriter(p.stderr, s.Stderr)
	}
	// Own process group, killed with the harness.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p.track.Cmd(p.cmd)
	err = p.cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		p.track.Close()
		return nil, fmt.Errorf("foreign reader: start %s: %w", argv[0], err)
	}
	line, err := p.readLine(ready)
	var d *DiedError
	switch {
	case err == nil && strings.TrimSpace(line) == "ready":
		return p, nil
	case err == nil:
		d = p.kill(fmt.Sprintf("first line %q, want \"ready\": killed by the harness", truncate(line, 200)), false)
	case errors.Is(err, os.ErrDeadlineExceeded):
		d = p.kill(fmt.Sprintf("did not say ready within %s (a foreign reader prints \"ready\" once it has opened the target): killed by the harness", ready), true)
	default:
		d = p.reap("")
		d.Status = "ended before saying ready (" + d.Status + ")"
	}
	d.BeforeReady = true
	return nil, d
}

// LookupJSON asks the process to look ip up and returns the record it
// sent (null when not found). An "error" answer is returned as an error;
// the death of the process as a *DiedError (also for every later call).
func (p *ForeignProcess) LookupJSON(ip netip.Addr) (json.RawMessage, error) {
	a, err := p.request("lookup " + ip.String())
	if err != nil {
		return nil, err
	}
	if a.Error != "" {
		return nil, errors.New(truncate(a.Error, 4<<10))
	}
	return a.Record, nil
}

// Reload asks the process to reopen the target. An "error" answer is
// returned as an error; the death of the process as a *DiedError.
func (p *ForeignProcess) Reload() error {
	a, err := p.request("reload")
	if err != nil {
		return err
	}
	if a.Error != "" {
		return errors.New(truncate(a.Error, 4<<10))
	}
	return nil
}

// request sends one line and reads the JSON answer. A process that does
// not answer within the answer timeout is killed (stuck); one that answers
// something else than JSON is killed (it broke the protocol).
func (p *ForeignProcess) request(line string) (ForeignAnswer, error) {
	p.mu.Lock()
	died := p.died
	p.mu.Unlock()
	if died != nil {
		return ForeignAnswer{}, died
	}
	if _, err := p.stdin.WriteString(line + "\n"); err != nil {
		return ForeignAnswer{}, p.end(err, p.answer)
	}
	got, err := p.readLine(p.answer)
	if err != nil {
		return ForeignAnswer{}, p.end(err, p.answer)
	}
	var a ForeignAnswer
	if err := json.Unmarshal([]byte(got), &a); err != nil {
		d := p.kill(fmt.Sprintf("broke the line protocol (answered %s with %q): killed by the harness", line, truncate(got, 200)), false)
		d.Broke = true
		return ForeignAnswer{}, d
	}
	return a, nil
}

// Signal sends sig to the process's group.
func (p *ForeignProcess) Signal(sig syscall.Signal) {
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
}

// Lookup implements DB: rec must be a *json.RawMessage.
func (p *ForeignProcess) Lookup(ip netip.Addr, rec any) (bool, error) {
	dst, ok := rec.(*json.RawMessage)
	if !ok {
		return false, fmt.Errorf("a foreign reader answers in JSON: want a *json.RawMessage, not %T", rec)
	}
	raw, err := p.LookupJSON(ip)
	if err != nil {
		return false, err
	}
	*dst = raw
	s := strings.TrimSpace(string(raw))
	return s != "" && s != "null", nil
}

// Close ends the process: its stdin is closed (a reader of the protocol
// then exits) and after 2s it is killed, which Close returns as a
// *DiedError with Stuck set. It is always reaped; a process that had ended
// already is no error.
func (p *ForeignProcess) Close() error {
	p.mu.Lock()
	died := p.died
	p.mu.Unlock()
	if died != nil {
		return nil
	}
	p.stdin.Close()
	killed := make(chan bool, 1)
	t := time.AfterFunc(2*time.Second, func() {
		killed <- true
		p.Signal(syscall.SIGKILL)
	})
	err := p.cmd.Wait()
	t.Stop()
	p.stdout.Close()
	d := &DiedError{Status: "was closed", Stderr: p.stderr.Kept(), State: p.cmd.ProcessState, Leftovers: p.leftovers()}
	select {
	case <-killed:
		d.Status, d.Stuck = "did not exit within 2s of its input closing: killed by the harness", true
	default:
	}
	p.mu.Lock()
	p.died = d
	p.mu.Unlock()
	var ee *exec.ExitError
	switch {
	case d.Stuck:
		return d
	case errors.As(err, &ee):
		return nil // a reader that exits non-zero once its input ends is no harm here
	}
	return err
}

// Ended returns how the process ended, nil while it runs.
func (p *ForeignProcess) Ended() *DiedError {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.died
}

// readLine reads one line within d.
func (p *ForeignProcess) readLine(d time.Duration) (string, error) {
	if err := p.stdout.SetReadDeadline(time.Now().Add(d)); err != nil {
		return "", err
	}
	line, err := p.lines.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// end records how the process ended after err cut the conversation short:
// a timeout kills it (stuck); otherwise it is reaped and its wait status
// read.
func (p *ForeignProcess) end(err error, d time.Duration) *DiedError {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return p.kill(fmt.Sprintf("did not answer within %s: killed by the harness", d), true)
	}
	return p.reap("")
}

// kill kills the process group and reaps it, recording status.
func (p *ForeignProcess) kill(status string, stuck bool) *DiedError {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	d := p.reap(status)
	d.Stuck = stuck
	return d
}

// reap waits for the process and records how it ended; status, when set,
// replaces what the wait status says.
func (p *ForeignProcess) reap(status string) *DiedError {
	p.stdin.Close()
	err := p.cmd.Wait()
	p.stdout.Close()
	d := &DiedError{Status: status, Stderr: p.stderr.Kept(), State: p.cmd.ProcessState, Leftovers: p.leftovers()}
	if ps := p.cmd.ProcessState; ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() && status == "" {
			d.Signal = ws.Signal()
			d.Status = "killed by " + crashes.Name(ws.Signal())
		} else if d.Status == "" && ps.Exited() {
			d.Status = fmt.Sprintf("exited with status %d", ps.ExitCode())
		} else if d.Status == "" {
			d.Status = ps.String()
		}
	} else if d.Status == "" {
		d.Status = fmt.Sprintf("ended (%v)", err)
	}
	p.mu.Lock()
	p.died = d
	p.mu.Unlock()
	return d
}

// leftovers kills what the process started and left running once it has
// been reaped, and names it.
func (p *ForeignProcess) leftovers() []string {
	var out []string
	for _, l := range p.track.Kill() {
		out = append(out, l.String()+", started by the reader, still running after it ended: killed")
	}
	p.track.Close()
	return out
}
