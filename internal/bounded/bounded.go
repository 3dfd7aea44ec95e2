package bounded

import (
	"fmt"
	"strings"
	"sync"
)

// Buffer is an io.Writer that keeps the first Head and the last Tail bytes
// written to it and counts the bytes it drops in between. It is safe for
// concurrent use (a process's stdout and stderr may share one).
type Buffer struct {
	mu      sync.Mutex
	head    []byte
	tail    []byte // a ring of the last bytes once full
	pos     int    // the next write position in tail once it is full
	full    bool
	dropped int64
	headCap int
	tailCap int
}

// New returns a Buffer that keeps the first head and the last tail bytes:
// New(n, 0) keeps the start of a stream, New(0, n) its end.
func New(head, tail int) *Buffer {
	return &Buffer{headCap: max(head, 0), tailCap: max(tail, 0)}
}

// Split returns a Buffer that keeps limit bytes: the first quarter of them
// from the start of the stream, three quarters from its end, where a failed
// command usually says why.
func Split(limit int) *Buffer {
	h := max(limit/4, 1)
	return New(h, max(limit-h, 1))
}

// Write keeps what fits and never fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	if room := b.headCap - len(b.head); room > 0 {
		k := min(room, len(p))
		b.head = append(b.head, p[:k]...)
		p = p[k:]
	}
	if b.tailCap == 0 {
		b.dropped += int64(len(p))
		return n, nil
	}
	for len(p) > 0 {
		if !b.full {
			k := min(b.tailCap-len(b.tail), len(p))
			b.tail = append(b.tail, p[:k]...)
			p = p[k:]
			b.full = len(b.tail) == b.tailCap
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

// Dropped is how many bytes were cut out.
func (b *Buffer) Dropped() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}

// Kept returns the bytes kept, the start and the end joined with nothing
// in between.
func (b *Buffer) Kept() string { return b.render("") }

// String returns the bytes kept, with a line saying how many bytes were cut
// out where they were.
func (b *Buffer) String() string { return b.render("\n[... %d bytes of output cut ...]\n") }

func (b *Buffer) render(cut string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var s strings.Builder
	s.Write(b.head)
	if b.dropped > 0 && cut != "" {
		fmt.Fprintf(&s, cut, b.dropped)
	}
	if b.full {
		s.Write(b.tail[b.pos:])
		s.Write(b.tail[:b.pos])
	} else {
		s.Write(b.tail)
	}
	return s.String()
}
