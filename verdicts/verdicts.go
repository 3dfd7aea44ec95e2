package verdicts

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Verdict is one outcome word. The zero value is Safe. Larger is more severe.
type Verdict int

// The outcome words, from least to most severe.
const (
	// Safe: every lookup answered with the right record, from A or from B.
	Safe Verdict = iota
	// Degraded: an open, reload or lookup returned an error, but no wrong
	// answer was served and the process lived.
	Degraded
	// Recovered: a memory fault was caught inside the reader and it went on.
	Recovered
	// Stuck: the reader stopped making progress without dying.
	Stuck
	// Corrupt: a lookup returned a record that is right for that IP in
	// neither A nor B, with no error.
	Corrupt
	// Crash: the reader process died (signal, or a Go fatal error).
	Crash
)

// All lists every verdict from least to most severe.
var All = []Verdict{Safe, Degraded, Recovered, Stuck, Corrupt, Crash}

var names = [...]string{"safe", "degraded", "recovered", "stuck", "corrupt", "crash"}

// String returns the contract word ("safe", "crash" ...).
func (v Verdict) String() string {
	if v < 0 || int(v) >= len(names) {
		return fmt.Sprintf("verdict(%d)", int(v))
	}
	return names[v]
}

// Parse turns a contract word into a Verdict. Case and surrounding space are
// ignored.
func Parse(s string) (Verdict, error) {
	w := strings.ToLower(strings.TrimSpace(s))
	for i, n := range names {
		if n == w {
			return Verdict(i), nil
		}
	}
	return Safe, fmt.Errorf("unknown verdict %q: want one of %s", s, strings.Join(names[:], ", "))
}

// MarshalText implements encoding.TextMarshaler.
func (v Verdict) MarshalText() ([]byte, error) {
	if v < 0 || int(v) >= len(names) {
		return nil, fmt.Errorf("invalid verdict %d", int(v))
	}
	return []byte(names[v]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *Verdict) UnmarshalText(b []byte) error {
	p, err := Parse(string(b))
	if err != nil {
		return err
	}
	*v = p
	return nil
}

// Worst returns the most severe of vs, or Safe when vs is empty.
func Worst(vs ...Verdict) Verdict {
	w := Safe
	for _, v := range vs {
		if v > w {
			w = v
		}
	}
	return w
}

// Counts holds how many readers (or events) ended in each outcome. It
// marshals to JSON as an object with every word as a key.
type Counts [len(names)]int

// Add counts one more v.
func (c *Counts) Add(v Verdict) { c[v]++ }

// Merge adds every count of o to c.
func (c *Counts) Merge(o Counts) {
	for i := range c {
		c[i] += o[i]
	}
}

// Worst returns the most severe verdict with a non-zero count (Safe if none).
func (c Counts) Worst() Verdict {
	for i := len(c) - 1; i >= 0; i-- {
		if c[i] > 0 {
			return Verdict(i)
		}
	}
	return Safe
}

// Total returns the sum of all counts.
func (c Counts) Total() int {
	n := 0
	for _, x := range c {
		n += x
	}
	return n
}

// MarshalJSON writes {"safe":N,"degraded":N,...} in severity order.
func (c Counts) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%d", n, c[i])
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// UnmarshalJSON reads the object MarshalJSON writes; unknown words are an error.
func (c *Counts) UnmarshalJSON(b []byte) error {
	var m map[string]int
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*c = Counts{}
	for k, n := range m {
		v, err := Parse(k)
		if err != nil {
			return fmt.Errorf("counts: %w", err)
		}
		c[v] = n
	}
	return nil
}
