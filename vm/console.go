package vm

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Marker starts every line of the console protocol. The guest init prints
// its events as Marker followed by one JSON object; everything else on the
// console (kernel messages, the payload's own output) is passed through.
// A marker need not start the line: output that lacked a final newline may
// precede it.
const Marker = "@@mapchaos "

// blobLine is how many bytes of a blob one data line carries (before
// base64), so that console lines stay short.
const blobLine = 57 * 2

// Event is one line of the console protocol.
type Event struct {
	// Ev is "info", "begin", "end", "blob", "data", "blobend", "fail"
	// or "done".
	Ev   string `json:"ev"`
	Step string `json:"step,omitempty"`
	// Key and Value for "info" (kernel release, page size ...).
	Key   string `json:"key,omitempty"`
	Value string `json:"value,omitempty"`
	// Code is the exit code of a step ("end"); -1 when it did not exit
	// by itself (killed after its timeout, or by a signal).
	Code int `json:"code,omitempty"`
	// MS is the step's wall time ("end").
	MS int64 `json:"ms,omitempty"`
	// Reason says why a step ended without an exit code, or why the
	// guest failed ("fail").
	Reason string `json:"reason,omitempty"`
	// Size and SHA256 announce a blob ("blob"); B is a chunk of it in
	// base64 ("data").
	Size   int    `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	B      string `json:"b,omitempty"`
}

// Reporter prints the console protocol (the guest side). Its methods are
// safe for concurrent use; each writes whole lines.
type Reporter struct {
	mu sync.Mutex
	w  io.Writer
	// blob is held for the whole of one blob: the host reads one blob's
	// lines at a time, so the blobs of steps run in parallel go one after
	// the other (other lines may still come between their lines).
	blob sync.Mutex
}

// NewReporter returns a Reporter that writes to w (the guest's console).
func NewReporter(w io.Writer) *Reporter { return &Reporter{w: w} }

func (r *Reporter) emit(e Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// The leading newline ends any partial line the payload left.
	if _, err := fmt.Fprintf(r.w, "\n%s%s\n", Marker, b); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	return nil
}

// Info reports a fact about the guest, e.g. ("kernel", "6.1.0-57-cloud-arm64").
func (r *Reporter) Info(key, value string) error {
	return r.emit(Event{Ev: "info", Key: key, Value: value})
}

// Begin reports that a step starts.
func (r *Reporter) Begin(step string) error { return r.emit(Event{Ev: "begin", Step: step}) }

// End reports how a step ended.
func (r *Reporter) End(step string, code int, d time.Duration, reason string) error {
	return r.emit(Event{Ev: "end", Step: step, Code: code, MS: d.Milliseconds(), Reason: reason})
}

// Blob sends data that belongs to step (a gzipped tar of its results),
// in base64 lines with its size and SHA-256, which the host checks.
func (r *Reporter) Blob(step string, data []byte) error {
	r.blob.Lock()
	defer r.blob.Unlock()
	sum := sha256.Sum256(data)
	if err := r.emit(Event{Ev: "blob", Step: step, Size: len(data), SHA256: hex.EncodeToString(sum[:])}); err != nil {
		return err
	}
	for off := 0; off < len(data); off += blobLine {
		chunk := data[off:min(off+blobLine, len(data))]
		if err := r.emit(Event{Ev: "data", Step: step, B: base64.StdEncoding.EncodeToString(chunk)}); err != nil {
			return err
		}
	}
	return r.emit(Event{Ev: "blobend", Step: step})
}

// Lines returns a writer that passes whole lines through to the console,
// each prefixed, written under the same lock as the protocol's lines; Close
// writes a last unterminated line.
func (r *Reporter) Lines(prefix string) io.WriteCloser { return &prefixed{r: r, prefix: prefix} }

type prefixed struct {
	r      *Reporter
	prefix string
	buf    []byte
}

func (p *prefixed) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		if err := p.line(p.buf[:i+1]); err != nil {
			return len(b), err
		}
		p.buf = p.buf[i+1:]
	}
}

func (p *prefixed) line(l []byte) error {
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	_, err := fmt.Fprintf(p.r.w, "%s%s", p.prefix, l)
	return err
}

func (p *prefixed) Close() error {
	if len(p.buf) == 0 {
		return nil
	}
	err := p.line(append(p.buf, '\n'))
	p.buf = nil
	return err
}

// Fail reports that the guest could not do its work (the host exits 3
// with this reason and the console tail).
func (r *Reporter) Fail(reason string) error { return r.emit(Event{Ev: "fail", Reason: reason}) }

// Done reports that every step has run and the guest is powering off.
func (r *Reporter) Done() error { return r.emit(Event{Ev: "done"}) }

// StepResult is what the console said about one step.
type StepResult struct {
	Name string
	// Ended is false when the step began but its end never came (the
	// guest hung, panicked or was killed).
	Ended bool
	// Code is the step's exit code; -1 when it did not exit by itself.
	Code     int
	Duration time.Duration
	Reason   string
	// Blob is the data the step sent back (nil when none).
	Blob []byte
}

// Transcript is what the host learnt from the guest's console.
type Transcript struct {
	Info  map[string]string
	Steps []*StepResult
	// Done is true when the guest finished every step and said so.
	Done bool
	// Failure is the guest init's own failure, if it reported one.
	Failure string
	// Errors are protocol errors: bad lines, a blob whose checksum or size
	// does not match.
	Errors []string
}

// Step returns the named step's result, or nil.
func (t *Transcript) Step(name string) *StepResult {
	for _, s := range t.Steps {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// ConsoleParser reads the console line by line (the host side). Lines that
// are not protocol events go to Pass, if set.
type ConsoleParser struct {
	// Pass receives every line that is not a protocol event, without
	// its line ending.
	Pass func(line string)
	t    Transcript
	blob struct {
		step string
		size int
		sum  string
		buf  bytes.Buffer
		open bool
	}
}

// Transcript returns what has been parsed so far.
func (p *ConsoleParser) Transcript() Transcript {
	t := p.t
	if t.Info == nil {
		t.Info = map[string]string{}
	}
	return t
}

// Line handles one console line (with or without "\r\n").
func (p *ConsoleParser) Line(line string) {
	line = strings.TrimRight(line, "\r\n")
	i := strings.Index(line, Marker)
	if i < 0 {
		p.pass(line)
		return
	}
	if before := strings.TrimRight(line[:i], "\r"); before != "" {
		p.pass(before)
	}
	var e Event
	if err := json.Unmarshal([]byte(strings.TrimSpace(line[i+len(Marker):])), &e); err != nil {
		p.t.Errors = append(p.t.Errors, fmt.Sprintf("bad console event %q: %v", clip(line[i:], 120), err))
		return
	}
	p.event(e)
}

func (p *ConsoleParser) pass(line string) {
	if p.Pass != nil {
		p.Pass(line)
	}
}

func (p *ConsoleParser) event(e Event) {
	t := &p.t
	switch e.Ev {
	case "info":
		if t.Info == nil {
			t.Info = map[string]string{}
		}
		t.Info[e.Key] = e.Value
	case "begin":
		t.Steps = append(t.Steps, &StepResult{Name: e.Step, Code: -1})
	case "end":
		s := p.step(e.Step)
		s.Ended, s.Code, s.Duration, s.Reason = true, e.Code, time.Duration(e.MS)*time.Millisecond, e.Reason
	case "blob":
		p.blob.step, p.blob.size, p.blob.sum, p.blob.open = e.Step, e.Size, e.SHA256, true
		p.blob.buf.Reset()
	case "data":
		if !p.blob.open || e.Step != p.blob.step {
			t.Errors = append(t.Errors, fmt.Sprintf("data for step %q outside its blob", e.Step))
			return
		}
		b, err := base64.StdEncoding.DecodeString(e.B)
		if err != nil {
			t.Errors = append(t.Errors, fmt.Sprintf("blob of step %q: bad base64: %v", e.Step, err))
			return
		}
		p.blob.buf.Write(b)
	case "blobend":
		if !p.blob.open || e.Step != p.blob.step {
			t.Errors = append(t.Errors, fmt.Sprintf("end of a blob of step %q that never began", e.Step))
			return
		}
		p.blob.open = false
		data := bytes.Clone(p.blob.buf.Bytes())
		sum := sha256.Sum256(data)
		switch {
		case len(data) != p.blob.size:
			t.Errors = append(t.Errors, fmt.Sprintf("blob of step %q: got %d bytes, announced %d (console lines lost)", e.Step, len(data), p.blob.size))
		case hex.EncodeToString(sum[:]) != p.blob.sum:
			t.Errors = append(t.Errors, fmt.Sprintf("blob of step %q: SHA-256 mismatch (console lines garbled)", e.Step))
		default:
			p.step(e.Step).Blob = data
		}
	case "fail":
		t.Failure = e.Reason
	case "done":
		t.Done = true
	default:
		t.Errors = append(t.Errors, fmt.Sprintf("unknown console event %q", e.Ev))
	}
}

// step returns the named step, adding it if the begin line was lost.
func (p *ConsoleParser) step(name string) *StepResult {
	if s := p.t.Step(name); s != nil {
		return s
	}
	s := &StepResult{Name: name, Code: -1}
	p.t.Steps = append(p.t.Steps, s)
	return s
}

// ParseConsole parses a whole console transcript.
func ParseConsole(r io.Reader, pass func(string)) (Transcript, error) {
	p := &ConsoleParser{Pass: pass}
	err := eachLine(r, p.Line)
	return p.Transcript(), err
}

// eachLine calls f for every line of r, however long.
func eachLine(r io.Reader, f func(string)) error {
	buf := make([]byte, 32<<10)
	var line []byte
	for {
		n, err := r.Read(buf)
		chunk := buf[:n]
		for len(chunk) > 0 {
			i := bytes.IndexByte(chunk, '\n')
			if i < 0 {
				line = append(line, chunk...)
				break
			}
			line = append(line, chunk[:i]...)
			f(string(line))
			line = line[:0]
			chunk = chunk[i+1:]
		}
		if err == io.EOF {
			if len(line) > 0 {
				f(string(line))
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("console: %w", err)
		}
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
