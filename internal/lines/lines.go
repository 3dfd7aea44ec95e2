package lines

import "strings"

// Last returns the last n non-blank lines of s, joined by "\n". Lines keep
// their indentation (a traceback's nesting); trailing spaces and carriage
// returns are dropped.
func Last(s string, n int) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimRight(l, "\r\t "); strings.TrimSpace(l) != "" {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep[max(0, len(keep)-n):], "\n")
}

// First returns the first line of s, without its line end.
func First(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return strings.TrimRight(l, "\r")
}
