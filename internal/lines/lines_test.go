package lines

import "testing"

func TestLast(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"", 3, ""},
		{"one\n", 3, "one"},
		{"a\r\nb\r\n\r\n  c  \n\n", 2, "b\n  c"},
		{"Traceback:\n  File \"r.py\"\nTypeError: x\n", 1, "TypeError: x"},
		{"a\nb\nc", 5, "a\nb\nc"},
		{"a\nb", 0, ""},
	} {
		if got := Last(c.in, c.n); got != c.want {
			t.Errorf("Last(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
