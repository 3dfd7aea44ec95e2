// Package progress shows how a run of many combinations is going: a line
// per finished combination, the same on a terminal or not, and on a
// terminal a status line rewritten in place while one runs.
package progress
