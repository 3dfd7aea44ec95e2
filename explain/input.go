package explain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/mapchaos/mapchaos/internal/lazyre"
)

// ErrEmpty and ErrBinary are what Validate returns for input that is not a
// trace at all.
var (
	ErrEmpty  = errors.New("no input: paste a crash trace (stderr, a log excerpt) or give a file")
	ErrBinary = errors.New("binary input, not a text trace")
)

// Validate checks that b is text that could hold a trace. It returns an
// error wrapping ErrEmpty or ErrBinary, saying what the input looks like.
func Validate(b []byte) error {
	switch {
	case len(bytes.TrimSpace(b)) == 0:
		return ErrEmpty
	case bytes.HasPrefix(b, []byte("\x7fELF")):
		return fmt.Errorf("%w: an ELF file (a core dump or a program?): paste the process's stderr or log instead", ErrBinary)
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		return fmt.Errorf("%w: gzip-compressed: decompress it first (gunzip -c FILE | mapchaos explain)", ErrBinary)
	case bytes.HasPrefix(b, []byte{0xff, 0xfe}), bytes.HasPrefix(b, []byte{0xfe, 0xff}):
		return nil // UTF-16 with a byte order mark: Decode converts it
	}
	sample := b[:min(len(b), 64<<10)]
	bad := 0
	for len(sample) > 0 {
		r, n := utf8.DecodeRune(sample)
		switch {
		case r == utf8.RuneError && n == 1:
			if len(sample) >= utf8.UTFMax {
				bad++
			}
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r' && r != '\f' && r != 0x1b:
			bad++
		}
		sample = sample[n:]
	}
	if bad*20 > min(len(b), 64<<10) {
		return fmt.Errorf("%w: %d of the first %d bytes are not text", ErrBinary, bad, min(len(b), 64<<10))
	}
	return nil
}

// Decode turns input bytes into text: UTF-16 with a byte order mark is
// converted, a UTF-8 byte order mark and NUL bytes are dropped.
func Decode(b []byte) string {
	if len(b) >= 2 && (b[0] == 0xff && b[1] == 0xfe || b[0] == 0xfe && b[1] == 0xff) {
		le := b[0] == 0xff
		u := make([]uint16, 0, len(b)/2)
		for i := 2; i+1 < len(b); i += 2 {
			if le {
				u = append(u, uint16(b[i])|uint16(b[i+1])<<8)
			} else {
				u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
			}
		}
		return string(utf16.Decode(u))
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	return strings.ReplaceAll(string(b), "\x00", "")
}

var (
	ansiRE = lazyre.New(`\x1b\[[0-9;?]*[A-Za-z]`)
	// A Kubernetes CRI log line: time, stream, F(ull) or P(artial), text.
	criRE = lazyre.New(`^\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d)\s+(?:stdout|stderr)\s+([FP])(?: (.*))?$`)
	// Prefixes that a log system puts before every line, each with a
	// cheap test of the first bytes that any line it matches passes.
	prefixREs = []gated{
		// RFC 3339 or Go's log package: "2026-11-30T05:40:30.123Z ", "2026/11/30 06:15:26 "
		{lazyre.New(`^\[?\d{4}[-/]\d\d[-/]\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?\]?\s+(?:(?:stdout|stderr)\s+[FP]\s)?`),
			func(l string) bool { return datePrefix(strings.TrimPrefix(l, "[")) }},
		// syslog / journald: "Nov 30 05:40:30 host geo[123]: "
		{lazyre.New(`^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ [^:\s]+(?:\[\d+\])?: `),
			func(l string) bool { return len(l) > 4 && l[0] >= 'A' && l[0] <= 'Z' && l[3] == ' ' }},
		// docker compose: "geo-1  | "
		{lazyre.New(`^[\w.-]+\s+\| ?`), func(l string) bool { return strings.Contains(l, "|") }},
		// kubectl logs --prefix: "[pod/geo-7d9f/geo] "
		{lazyre.New(`^\[pod/[^\]\s]+\] `), func(l string) bool { return strings.HasPrefix(l, "[pod/") }},
		// a quoted paste: "> "
		{lazyre.New(`^> ?`), func(l string) bool { return strings.HasPrefix(l, ">") }},
	}
	funcStartRE = lazyre.New(`^[\w./%*()\[\]{},:~-]+\(`)
	funcLineRE  = lazyre.New(`^[\w./%*()\[\]{},:~-]+\(.*\)$`)
	fileLineRE  = lazyre.New(`^\s+\S+\.(?:go|s|c):\d+`)
)

// gated is a regular expression with a cheap test that every string it
// matches passes: a log holds far more lines of noise than of trace, and
// the test spares the expression most of them.
type gated struct {
	re   *lazyre.RE
	gate func(string) bool
}

// datePrefix reports whether l starts like "2026-11-30" or "2026/11/30".
func datePrefix(l string) bool {
	return len(l) > 4 && l[0] >= '0' && l[0] <= '9' && (l[4] == '-' || l[4] == '/')
}

// cleaned is the input with what pasting added taken away.
type cleaned struct {
	text  string
	notes []string
}

// clean undoes what log systems and pasting do to a trace: CRLF, colours,
// JSON log records, per-line prefixes, partial CRI lines, lines wrapped in
// the middle of a signal line or a call, and a goroutine header cut off.
func clean(ctx context.Context, text string) (cleaned, error) {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	text = ansiRE.ReplaceAllString(text, "")
	var c cleaned
	// parts are the pieces of the last line when a CRI log split it (P
	// records): they are joined once, as appending piece by piece is
	// quadratic in the length of the line.
	var lines, parts []string
	flush := func() {
		if len(parts) > 0 {
			lines[len(lines)-1] = strings.Join(parts, "")
			parts = parts[:0]
		}
	}
	partial := false
	for i, l := range strings.Split(text, "\n") {
		if i%checkEvery == 0 {
			if err := stopped(ctx); err != nil {
				return c, err
			}
		}
		for _, l := range fromJSON(l) {
			if strings.HasPrefix(strings.TrimSpace(l), "```") {
				continue
			}
			wasPartial := partial
			partial = false
			if datePrefix(l) {
				if m := criRE.FindStringSubmatch(l); m != nil {
					l, partial = m[2], m[1] == "P"
				}
			}
			l = stripPrefixes(l)
			if wasPartial && len(lines) > 0 {
				if len(parts) == 0 {
					parts = append(parts, lines[len(lines)-1])
				}
				parts = append(parts, l)
				continue
			}
			flush()
			lines = append(lines, l)
		}
	}
	flush()
	lines, joined := unwrap(lines)
	if joined {
		c.notes = append(c.notes, "Some lines were wrapped by the log system; they were joined again.")
	}
	c.text = strings.Join(lines, "\n")
	return c, nil
}

// fromJSON returns the message of a JSON log record (docker's json-file
// {"log": ...}, {"msg": ...}, {"message": ...}, journald's MESSAGE) split
// into lines, or the line itself when it is not one.
func fromJSON(l string) []string {
	s := strings.TrimSpace(l)
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return []string{l}
	}
	var rec map[string]any
	if json.Unmarshal([]byte(s), &rec) != nil {
		return []string{l}
	}
	for _, k := range []string{"log", "message", "msg", "MESSAGE"} {
		if v, ok := rec[k].(string); ok {
			return strings.Split(strings.TrimSuffix(v, "\n"), "\n")
		}
	}
	return []string{l}
}

func stripPrefixes(l string) string {
	for range 3 {
		before := l
		for _, p := range prefixREs {
			if p.gate(l) {
				l = p.re.ReplaceAllString(l, "")
			}
		}
		if l == before {
			break
		}
	}
	return l
}

// unwrap joins a signal line or a call that a log system wrapped onto the
// next lines.
func unwrap(lines []string) ([]string, bool) {
	var out []string
	joined := false
	w := hardWrapWidth(lines)
	for i := 0; i < len(lines); i++ {
		start := i
		for w > 0 && len(lines[i]) == w && i+1 < len(lines) {
			i++
		}
		l := lines[i]
		if i > start { // one join: appending line by line is quadratic
			l = strings.Join(lines[start:i+1], "")
			joined = true
		}
		for n := 0; n < 4 && i+1 < len(lines) && wrapped(l) && strings.TrimSpace(lines[i+1]) != "" &&
			!strings.HasPrefix(lines[i+1], "\t") && !strings.HasPrefix(lines[i+1], "goroutine "); n++ {
			i++
			l += lines[i]
			joined = true
		}
		out = append(out, l)
	}
	return out, joined
}

// wrapped reports whether l looks like the first part of a wrapped signal
// line or call.
func wrapped(l string) bool {
	if i := strings.Index(l, "[signal "); i >= 0 {
		return !strings.Contains(l[i:], "]")
	}
	if strings.HasPrefix(l, "\t") || !strings.Contains(l, "(") || !funcStartRE.MatchString(l) {
		return false
	}
	return strings.Count(l, "(") > strings.Count(l, ")")
}

// withHeader returns text with a goroutine header put before the first
// frame when the trace was cut at the top (the first frame comes before any
// goroutine header), and whether it did so.
func withHeader(text string) (string, bool) {
	lines := strings.Split(text, "\n")
	for i := 0; i+1 < len(lines); i++ {
		if strings.HasPrefix(lines[i], "goroutine ") || strings.HasPrefix(lines[i], "runtime stack:") {
			return text, false
		}
		if strings.HasSuffix(lines[i], ")") && funcLineRE.MatchString(lines[i]) && fileLineRE.MatchString(lines[i+1]) {
			out := append(append(append([]string{}, lines[:i]...), "goroutine 0 [unknown]:"), lines[i:]...)
			return strings.Join(out, "\n"), true
		}
	}
	return text, false
}

// hardWrapWidth finds the width at which a terminal or a viewer broke
// long lines: at least three lines, and a fifth of the long ones, of
// exactly that length, and none longer.
// It returns 0 when the text was not hard-wrapped.
func hardWrapWidth(lines []string) int {
	count := map[int]int{}
	longest, long := 0, 0
	for _, l := range lines {
		longest = max(longest, len(l))
		if len(l) >= 40 {
			count[len(l)]++
			long++
		}
	}
	if n := count[longest]; n >= 3 && n*5 >= long {
		return longest
	}
	return 0
}
