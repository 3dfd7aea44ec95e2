// Package bounded keeps a bounded part of a stream, such as a process's
// output: its first bytes, its last bytes, or both, with the size of what
// was cut out in between.
package bounded
