package writers

import "context"

// Writer applies one update: when Update returns nil, Target holds exactly the
// bytes of Source. A Writer does the same system calls, in the same order, as
// the tool it is named after.
type Writer interface {
	Update(ctx context.Context, u Update) error
}

// Update is one replacement of the target.
type Update struct {
	// Target is the path readers use. For strategies with
	// Properties.SymlinkTarget it is a symlink laid out by Install.
	Target string
	// Source is a pristine file holding the version to install. Writers
	// read it and never modify, move or delete it.
	Source string
	// Seq numbers the update from 1; writers use it for unique names.
	Seq int
	// Step, when not nil, is called just before each system call that
	// changes the target or its directory, with a short description such as
	// `openat(O_WRONLY|O_TRUNC)` or `renameat(db.mmdb.temporary, db.mmdb)`.
	// The engine uses it to time starting readers and to say what the
	// writer was doing when a reader died.
	Step func(step string)
	// Leftover, when not nil, is called by a writer that runs a command
	// (Exec) for each process the command started that was still running
	// when it ended, and that the writer killed, e.g. "pid 4242 `sleep
	// 300`, started by the updater, still running after it exited:
	// killed".
	Leftover func(desc string)
}

// step calls u.Step if it is set.
func (u Update) step(s string) {
	if u.Step != nil {
		u.Step(s)
	}
}

// Properties are what a strategy promises, as data.
type Properties struct {
	// Atomic: readers never see a missing, partial or torn target, and a
	// reader that mapped the old file keeps it whole.
	Atomic bool
	// SymlinkTarget: the target must be a symlink to a file in the same
	// directory (see Install).
	SymlinkTarget bool
	// KeepsFiles: the writer never opens for writing, truncates or
	// changes the mode of a file that exists before the update; it writes
	// new files and renames, links or unlinks the old ones. Whatever held
	// a byte of an old file holds it after the update. Step mode gives
	// each kill run of such a writer hard links to one prepared layout.
	KeepsFiles bool
}

// Strategy is a registered writer with its name and what it promises.
type Strategy struct {
	Name    string // contract name, e.g. "cp"
	Summary string // one line for `mapchaos list`
	Properties
	Writer Writer
}
