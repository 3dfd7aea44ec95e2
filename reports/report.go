package reports

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mapchaos/mapchaos/internal/input"
	"github.com/mapchaos/mapchaos/results"
	"github.com/mapchaos/mapchaos/verdicts"
)

// Schema names the version of the report format. It is the value of the
// "schema" key of every report.json.
const Schema = "mapchaos.report/v1"

// Report is the whole outcome of one run: report.json holds exactly this.
type Report struct {
	Schema  string  `json:"schema"`
	Run     Run     `json:"run"`
	Results []Entry `json:"results"`
}

// Run describes how and where a run happened.
type Run struct {
	Seed int64 `json:"seed"`
	// Mode is the mode the run used: "race" or "step".
	Mode string `json:"mode"`
	// Requested is the mode that was asked for, set only when it could
	// not be used and the run fell back to Mode.
	Requested string `json:"requested_mode,omitempty"`
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	// Emulation is "none", "qemu-system" or "qemu-user".
	Emulation string `json:"emulation"`
	// Kernel is the kernel release (uname -r).
	Kernel   string `json:"kernel"`
	PageSize int    `json:"page_size"`
	// FS is the file system type of the target's directory ("ext4",
	// "tmpfs" ..., or its magic number in hex).
	FS string `json:"fs"`
	// Go is the Go version the harness was built with.
	Go string `json:"go"`
	// Modules maps module paths to versions.
	Modules map[string]string `json:"modules"`
	// Started is when the run began, in RFC 3339.
	Started    string `json:"started"`
	DurationMS int64  `json:"duration_ms"`
	Host       string `json:"host,omitempty"`
	// Config is the path of the ginkgo.yml the run used.
	Config string `json:"config,omitempty"`
	// Fixture describes the fixture pair, e.g. "16 MiB, shrink".
	Fixture string `json:"fixture,omitempty"`
	// WriterCmd and ReaderCmd are the user's own updater and reader
	// commands of a `check` run, as given.
	WriterCmd string   `json:"writer_cmd,omitempty"`
	ReaderCmd string   `json:"reader_cmd,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
}

// Entry is the result of one combination together with its expectation.
type Entry struct {
	results.Result // embedded: its fields are inlined in JSON
	// Expected is the expected verdict word, "" when none is configured.
	Expected string `json:"expected"`
	// Met says whether the observed verdict met the expectation.
	Met bool `json:"met"`
}

// MaxReadSize is the most Read reads: a report.json of a full matrix,
// evidence included, is well under a MiB.
const MaxReadSize = 64 << 20

// Read is ReadContext without a context to stop it.
func Read(path string) (Report, error) { return ReadContext(context.Background(), path) }

// ReadContext loads and checks a report.json, at most MaxReadSize bytes.
// It fails, saying what is wrong, when the file is larger, is not JSON, is
// not a mapchaos report or has another schema, and when ctx ends first
// (with an error that wraps ctx.Err()). Unknown fields are ignored: later
// versions of the schema may add fields.
func ReadContext(ctx context.Context, path string) (Report, error) {
	data, err := input.ReadFile(ctx, path, MaxReadSize, "a report (report.json)")
	if err != nil {
		return Report{}, fmt.Errorf("read report: %w", err)
	}
	r, err := decode(data)
	if err != nil {
		return Report{}, fmt.Errorf("read report %s: %w", path, err)
	}
	return r, nil
}

// decode parses a report, checking the schema before anything else so that
// a report of another version is named as such rather than failing on a
// field whose shape changed.
func decode(data []byte) (Report, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return Report{}, errors.New("file is empty, want a JSON report")
	}
	var head struct {
		Schema *string `json:"schema"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return Report{}, jsonError(data, err)
	}
	switch {
	case head.Schema == nil:
		return Report{}, fmt.Errorf(`no "schema" key: not a mapchaos report (want schema %q)`, Schema)
	case *head.Schema != Schema && strings.HasPrefix(*head.Schema, "mapchaos.report/"):
		return Report{}, fmt.Errorf("schema is %q, want %q: written by another version of mapchaos", *head.Schema, Schema)
	case *head.Schema != Schema:
		return Report{}, fmt.Errorf("schema is %q, want %q: not a mapchaos report", *head.Schema, Schema)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return Report{}, jsonError(data, err)
	}
	return r, nil
}

// jsonError says where in data a JSON error happened, in lines and columns.
func jsonError(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := position(data, syn.Offset)
		return fmt.Errorf("invalid JSON at line %d, column %d: %w", line, col, err)
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Errorf("top-level JSON value is %s, want an object", article(typ.Value))
	case errors.As(err, &typ):
		line, col := position(data, typ.Offset)
		return fmt.Errorf("field %q at line %d, column %d: %w", typ.Field, line, col, err)
	}
	return fmt.Errorf("invalid report: %w", err)
}

// article prefixes a JSON type name with "a" or "an".
func article(s string) string {
	if s != "" && strings.ContainsRune("aeiou", rune(s[0])) {
		return "an " + s
	}
	return "a " + s
}

// position returns the 1-based line and column of the last byte that
// encoding/json read before it stopped at off: the offending byte of a
// syntax error, the end of a value of the wrong type.
func position(data []byte, off int64) (line, col int) {
	i := int(min(max(off-1, 0), int64(len(data))))
	before := data[:i]
	line = bytes.Count(before, []byte("\n")) + 1
	col = i - bytes.LastIndexByte(before, '\n')
	return line, col
}

// JSON renders r as report.json: indented, with a final newline, and with
// <, > and & left as they are so traces stay readable. An empty Schema is
// filled in; any other schema than Schema is an error.
func JSON(r Report) ([]byte, error) {
	switch r.Schema {
	case "":
		r.Schema = Schema
	case Schema:
	default:
		return nil, fmt.Errorf("report has schema %q, want %q", r.Schema, Schema)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("encode report: %w", err)
	}
	return b.Bytes(), nil
}

// meanings are the meanings of the six words (docs/contracts.md), in severity order.
var meanings = [...]string{
	verdicts.Safe:      "every lookup answered with the right record for that IP, from A or from B",
	verdicts.Degraded:  "an open, reload or lookup returned an error (ENOENT, invalid database ...), but no wrong answer was served and the process lived",
	verdicts.Recovered: "a memory fault (SIGBUS/SIGSEGV) was caught inside the reader (SetPanicOnFault + recover) and it went on",
	verdicts.Stuck:     "the reader stopped making progress without dying",
	verdicts.Corrupt:   "a lookup returned a record that is right for that IP in neither A nor B, with no error",
	verdicts.Crash:     "the reader process died: killed by a signal, or a Go fatal error (exit 2, \"fatal error:\" on stderr)",
}
