package step

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// Class says what a watched system call does to what readers see.
type Class int

// The classes of watched calls.
const (
	// Mutating calls change the target or its directory: opens for
	// writing, writes, copies, truncations, renames, unlinks, links,
	// mode changes. They run one at a time, and the harness probes after
	// them.
	Mutating Class = iota
	// Barrier calls make earlier changes durable (fsync, fdatasync,
	// sync_file_range, syncfs) and change nothing readers see now. They
	// are recorded, for crash states after power loss, and not probed.
	Barrier
	// Hidden calls set up changes that stepping cannot see (a writable
	// shared mapping of a watched file, io_uring). They are recorded with
	// a warning.
	Hidden
)

// Call is one watched system call of the updater, as it was made.
type Call struct {
	// N numbers the watched calls of one run from 1, in the order they
	// ran: "#N" in reports.
	N int `json:"n"`
	// Task numbers the thread that made the call, in the order the
	// tracer met the threads (0 is the first thread of the updater).
	Task int `json:"task"`
	// Name is the system call's name ("openat", "pwrite64" ...).
	Name  string `json:"name"`
	Class Class  `json:"class"`
	// Text shows the call with its arguments decoded, file names relative
	// to the target's directory: `openat("db.mmdb", O_WRONLY|O_TRUNC)`.
	Text string `json:"text"`
	// Data marks calls that write file data (write, pwrite, copy ...):
	// by default they are probed at exponentially spaced counts only.
	Data bool `json:"data,omitempty"`
	// Bytes is the length a data call asked for.
	Bytes int64 `json:"bytes,omitempty"`
	// Ret is the return value; Errno the error, 0 on success.
	Ret   int64      `json:"ret"`
	Errno unix.Errno `json:"errno,omitempty"`
	// Died: the task died inside the call.
	Died bool `json:"died,omitempty"`

	lenArg int // index of the length argument a clamp may shorten, -1 if none
}

// Failed reports whether the call returned an error (and so, for the
// calls stepped here, changed nothing).
func (c *Call) Failed() bool { return c.Errno != 0 }

// Result renders the return value: "= 3", "= -1 EEXIST (file exists)".
func (c *Call) Result() string {
	switch {
	case c.Died:
		return "(the task died in it)"
	case c.Errno != 0:
		return fmt.Sprintf("= -1 %s (%s)", errnoName(c.Errno), c.Errno.Error())
	}
	return fmt.Sprintf("= %d", c.Ret)
}

// String is Text and Result.
func (c *Call) String() string { return c.Text + " " + c.Result() }

// render shows the call with args as its arguments.
func (c *Call) render(args string) string {
	return c.Name + "(" + args + ")"
}

// errnoName is the symbolic name of e ("ENOENT"), or its number.
func errnoName(e unix.Errno) string {
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return fmt.Sprintf("errno %d", int(e))
}

// openFlags spells the flags of an open that matter here.
func openFlags(flags uint64) string {
	var parts []string
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		parts = append(parts, "O_RDONLY")
	case unix.O_WRONLY:
		parts = append(parts, "O_WRONLY")
	case unix.O_RDWR:
		parts = append(parts, "O_RDWR")
	}
	for _, f := range []struct {
		bit  uint64
		name string
	}{{unix.O_CREAT, "O_CREAT"}, {unix.O_EXCL, "O_EXCL"}, {unix.O_TRUNC, "O_TRUNC"},
		{unix.O_APPEND, "O_APPEND"}, {unix.O_TMPFILE &^ unix.O_DIRECTORY, "O_TMPFILE"}} {
		if flags&f.bit == f.bit && f.bit != 0 {
			parts = append(parts, f.name)
		}
	}
	return strings.Join(parts, "|")
}

// renameFlags spells the flags of renameat2.
func renameFlags(flags uint64) string {
	var parts []string
	for _, f := range []struct {
		bit  uint64
		name string
	}{{unix.RENAME_NOREPLACE, "RENAME_NOREPLACE"}, {unix.RENAME_EXCHANGE, "RENAME_EXCHANGE"}, {unix.RENAME_WHITEOUT, "RENAME_WHITEOUT"}} {
		if flags&f.bit != 0 {
			parts = append(parts, f.name)
		}
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, "|")
}
