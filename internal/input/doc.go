// Package input reads what a user names on the command line (a config, a
// report to merge, a crash trace) with a bound suited to it, and gives up
// when its context ends, even in the middle of a read that blocks.
//
// ReadFile and ReadAll return at most limit bytes; past it they fail with a
// *LimitError (errors.Is ErrTooLarge) that names the input, the bound and
// what the input was meant to be, without reading more than limit+1 bytes
// (a regular file larger than limit is refused from its size, unread).
// So `--config /dev/zero` fails at once instead of filling the memory.
//
// When ctx ends they return an error that wraps ctx.Err(): a FIFO that no
// writer opens, a FIFO or a terminal whose writer never finishes, a pipe on
// stdin. A file opened by name is pollable (a FIFO, a terminal): its read
// is stopped with a deadline. Stdin and other readers that cannot take a
// deadline are left to a goroutine that ends with the blocked read (or
// with the process), holding nothing but its own buffer. A FIFO that no
// writer ever opened is released by opening it for writing, without
// blocking, and closing it at once.
package input
