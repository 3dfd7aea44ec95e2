// Package lines keeps the end of a process's output: the last lines of a
// stderr or a failed command are usually the ones that say why.
package lines
