package shell

import "strings"

// safe are the bytes a word may hold and still need no quotes in a POSIX
// shell. Braces are safe: {new} and {target} stay readable.
const safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=,:@+{}%"

// Quote quotes s for a POSIX shell when it needs it: in single quotes,
// each single quote in s closed, escaped and reopened. An empty s is a
// pair of single quotes.
func Quote(s string) string {
	if s != "" && strings.Trim(s, safe) == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Join quotes each word of argv and joins them with spaces: a command line
// a POSIX shell splits back into argv.
func Join(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}
