package bounded

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestBuffer(t *testing.T) {
	for _, c := range []struct {
		name       string
		head, tail int
		writes     []string
		kept, str  string
		dropped    int64
	}{
		{"fits", 4, 4, []string{"abc", "def"}, "abcdef", "abcdef", 0},
		{"head and tail", 2, 3, []string{"abcdefgh", "ij"}, "abhij", "ab\n[... 5 bytes of output cut ...]\nhij", 5},
		{"ring wraps in small writes", 1, 3, []string{"a", "b", "c", "d", "e", "f", "g"}, "aefg", "a\n[... 3 bytes of output cut ...]\nefg", 3},
		{"head only", 3, 0, []string{"abcdef"}, "abc", "abc\n[... 3 bytes of output cut ...]\n", 3},
		{"tail only", 0, 3, []string{"abcdef", "g"}, "efg", "\n[... 4 bytes of output cut ...]\nefg", 4},
		{"empty", 2, 2, nil, "", "", 0},
	} {
		b := New(c.head, c.tail)
		for _, w := range c.writes {
			if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
				t.Fatalf("%s: Write(%q) = %d, %v", c.name, w, n, err)
			}
		}
		if got := b.Kept(); got != c.kept {
			t.Errorf("%s: Kept() = %q, want %q", c.name, got, c.kept)
		}
		if got := b.String(); got != c.str {
			t.Errorf("%s: String() = %q, want %q", c.name, got, c.str)
		}
		if got := b.Dropped(); got != c.dropped {
			t.Errorf("%s: Dropped() = %d, want %d", c.name, got, c.dropped)
		}
	}
}

func TestSplitKeepsAQuarterOfTheStart(t *testing.T) {
	b := Split(100)
	for i := range 1000 {
		fmt.Fprintf(b, "%04d\n", i)
	}
	s := b.Kept()
	if len(s) != 100 || !strings.HasPrefix(s, "0000\n0001\n") || !strings.HasSuffix(s, "0998\n0999\n") {
		t.Errorf("Split(100) kept %d bytes: %q", len(s), s)
	}
}

func TestConcurrentWriters(t *testing.T) {
	b := New(10, 10)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				b.Write([]byte("xy"))
			}
		}()
	}
	wg.Wait()
	if got := b.Dropped(); got != 16000-20 {
		t.Errorf("Dropped() = %d, want %d", got, 16000-20)
	}
}
