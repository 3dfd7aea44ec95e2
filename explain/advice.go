package explain

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mapchaos/mapchaos/verdicts"
)

// Pattern is a way of updating a file that causes the explained fault.
type Pattern struct {
	// Updater names the commands or code, What says what they do.
	Updater string `json:"updater"`
	What    string `json:"what"`
	// Writer is the built-in writer strategy that does the same.
	Writer string `json:"writer,omitempty"`
}

// Fix is one remedy with its cost.
type Fix struct {
	Title string `json:"title"`
	How   string `json:"how"`
	Cost  string `json:"cost"`
	// Here lists what ginkgo.yml expects of the combinations that use
	// this remedy: the evidence behind it, on this harness.
	Here []string `json:"here,omitempty"`
}

// The updaters that truncate or rewrite a mapped file in place.
var truncatingPatterns = []Pattern{
	{Updater: "cp NEW LIVE, cat NEW > LIVE, dd if=NEW of=LIVE (without conv=notrunc)",
		What: "truncate the live file to 0 bytes, then write it again: every page past what has been written is unbacked until the copy ends", Writer: "cp"},
	{Updater: "rsync --inplace, dd conv=notrunc",
		What: "overwrite the bytes in place, then truncate to the new size: readers see torn pages during the overwrite, and SIGBUS past the new end when the new file is smaller", Writer: "inplace"},
	{Updater: "a download tool writing straight to the live path (curl -o LIVE, wget -O LIVE, a script that opens it with O_TRUNC)",
		What: "the same as cp, for as long as the download takes", Writer: "cp"},
}

// advise fills the cause, the patterns, the reproductions and the fixes of
// a memory fault.
func advise(x *Explanation, known []Combination) {
	truncation := x.Signal == "SIGBUS" && (x.Code == "" || x.Code == "BUS_ADRERR") || x.Kind == Recovered && x.Signal == ""
	switch {
	case truncation:
		adviseTruncation(x, known)
	case x.Code == "BUS_OBJERR":
		x.Cause = "The kernel could not read the page from the file: an I/O error on the backing store (a failing disk, or a network or FUSE file system that lost the file or its connection). This is not an updater truncating the file."
		x.Fixes = []Fix{
			{Title: "Keep the database on local storage",
				How:  "copy it to a local disk or tmpfs (atomically: write a temporary file, fsync, rename) and open the copy",
				Cost: "a copy per host; the copy must be refreshed on every update"},
			inMemoryFix(x, nil),
		}
		x.Fixes[1].Cost += "; an I/O error then fails the read at load time, as an error the program can handle, instead of killing a lookup"
		x.ReproduceNote = "No combination of the matrix reproduces BUS_OBJERR: it comes from the storage, not from the updater."
	case x.Signal == "SIGSEGV" && x.Code == "SEGV_ACCERR":
		x.Cause = "The address is mapped but the access is not allowed: most likely a write to the read-only mapping, by code that modified bytes the library returned, which point into the mapped file."
		x.Fixes = []Fix{{Title: "Copy before modifying", How: "copy any []byte that comes from the reader before changing it", Cost: "an allocation per value"}}
		x.ReproduceNote = "No combination of the matrix reproduces SEGV_ACCERR: an update of a mapped file raises SIGBUS in its readers."
	case x.Signal == "SIGSEGV":
		adviseUnmapped(x)
	default:
		x.Cause = "The signal's code says: " + orText(x.CodeMeaning, "nothing this harness knows") + ". That is not what an update of a mapped file causes."
		x.ReproduceNote = "No combination of the matrix reproduces it."
	}
}

func orText(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func adviseTruncation(x *Explanation, known []Combination) {
	x.Cause = "The database file was truncated or rewritten in place while this process had it mapped. A shared mapping (MAP_SHARED) shows the file itself, not a copy taken when it was opened: once an update makes the file shorter, pages past its new end are no longer backed, and the next read of one raises SIGBUS (BUS_ADRERR). No reopen is needed to die: a lookup that touches such a page is enough. Updaters that replace the file by rename(2) (mv, geoipupdate) or swap a symlink cannot do this: the mapped inode stays whole."
	if x.Kind == Killed && x.Code == "" {
		x.Cause += " The output does not give the si_code: in a reader of a mapped file a SIGBUS is almost always this; an I/O error on the page (BUS_OBJERR: a failing disk, a network file system) is the other possibility."
	}
	x.Patterns = truncatingPatterns
	want := verdicts.Crash
	match := func(c Combination) bool { return c.expects(verdicts.Crash) && c.Mapped && !c.PanicOnFault }
	if x.Kind == Recovered {
		want = verdicts.Recovered
		match = func(c Combination) bool { return c.expects(verdicts.Recovered) && c.Mapped && c.PanicOnFault }
	}
	for _, c := range known {
		if match(c) {
			x.Reproduce = append(x.Reproduce, Repro{Combination: c, Note: libraryNote(x, c)})
		}
	}
	switch {
	case len(known) == 0:
		x.ReproduceNote = "No combinations with expectations were given (no ginkgo.yml with an expect: section), so none can be named."
	case len(x.Reproduce) == 0:
		x.ReproduceNote = fmt.Sprintf("No combination of the matrix is expected to give %s with a mapped reader.", want)
	}
	if x.Kind == Recovered {
		var corrupt []string
		for _, r := range x.Reproduce {
			if r.expects(verdicts.Corrupt) {
				corrupt = append(corrupt, r.Name())
			}
		}
		if len(corrupt) > 0 {
			x.Cause += fmt.Sprintf(" Recovering is not enough: the same updates let lookups read the new bytes through the old layout with no fault at all, so wrong answers are served without an error (ginkgo.yml expects corrupt for %s).", strings.Join(corrupt, ", "))
		}
	}
	writers := crashWriters(x, known)
	x.Fixes = []Fix{
		{Title: "Replace the file atomically",
			How:  "write the new version to a temporary file in the same directory, fsync it, rename(2) it over the live path, fsync the directory: what geoipupdate does. Readers that mapped the old file keep the old inode whole; new opens get the whole new file.",
			Cost: "disk space for two copies during the update; the temporary file must be on the same file system; the old inode's space is freed only when the last reader unmaps it (reopen after an update).",
			Here: here(known, func(c Combination) bool { return c.Writer == "rename" })},
		{Title: "Swap a symlink atomically",
			How:  "keep each version under its own name and point the live path at it through a symlink; replace the link with rename(2) (ln -sfn from coreutils 9 or later, or renameio.Symlink). Never rewrite a file a reader may have mapped; delete an old version only after readers reopened.",
			Cost: "one more file on disk per version kept; a symlink in the deployment layout; rm + ln -s (or an older ln -sf) is not atomic and leaves a moment with no file.",
			Here: here(known, func(c Combination) bool { return c.Writer == "symlink-swap" })},
		inMemoryFix(x, here(known, func(c Combination) bool { return c.Reader == "bytes" && slices.Contains(writers, c.Writer) })),
	}
	if f, ok := panicOnFaultFix(x, here(known, func(c Combination) bool { return c.Reader == "mmap-recover" && slices.Contains(writers, c.Writer) })); ok {
		x.Fixes = append(x.Fixes, f)
	}
}

// crashWriters are the writers of the reproductions, or of every known
// combination expected to crash a mapped reader.
func crashWriters(x *Explanation, known []Combination) []string {
	var ws []string
	for _, r := range x.Reproduce {
		ws = append(ws, r.Writer)
	}
	if len(ws) == 0 {
		for _, c := range known {
			if c.expects(verdicts.Crash) && c.Mapped {
				ws = append(ws, c.Writer)
			}
		}
	}
	return ws
}

// libraryNote says how a combination's reader compares with the pasted one.
func libraryNote(x *Explanation, c Combination) string {
	switch {
	case c.Library == "":
		return ""
	case x.Library == nil || x.Library.Module == "":
		return "the built-in reader uses " + c.Library + "; the pasted output does not name its library"
	case strings.HasPrefix(c.Library, x.Library.Name+" ") || c.Library == x.Library.Name:
		return "same library: " + c.Library
	}
	return "the built-in reader uses " + c.Library + "; the pasted fault is in " + x.Library.Name + ", which maps the file the same way"
}

// here lists what ginkgo.yml expects of the combinations that pick selects.
func here(known []Combination, pick func(Combination) bool) []string {
	var out []string
	for _, c := range known {
		if pick(c) {
			out = append(out, c.Name()+": "+c.expectedText())
		}
	}
	return out
}

// inMemoryFix is "read the file into memory", in the words of the library.
func inMemoryFix(x *Explanation, evidence []string) Fix {
	f := Fix{Title: "Read the file into memory",
		How:  "read the whole file into memory, if the reader can (most MaxMind DB readers have a from-bytes or in-memory mode)",
		Cost: "RAM equal to the file size in every process (no page sharing between processes, unlike a shared mapping), and a reload reads the whole file. A reload during a non-atomic update can still read a torn file: pair it with an atomic update."}
	name, module := "", ""
	if x.Library != nil {
		name, module = x.Library.Name, x.Library.Module
	}
	switch {
	case slices.Contains(x.Via, "geoip2-golang") || name == "geoip2-golang":
		f.How = "geoip2.FromBytes(b) with b from os.ReadFile, instead of geoip2.Open"
	case strings.HasSuffix(module, "/v2"):
		f.How = "maxminddb.OpenBytes(b) with b from os.ReadFile, instead of maxminddb.Open"
	case name == "maxminddb-golang":
		f.How = "maxminddb.FromBytes(b) with b from os.ReadFile, instead of maxminddb.Open"
	case name == "libmaxminddb":
		f.How = "libmaxminddb has no in-memory mode (MMDB_open always maps the file): open a private copy (on tmpfs, replaced atomically), or switch to a reader that can read from memory"
	case name == "maxminddb (Python)" || x.Library != nil && x.Library.Lang == "Python":
		f.How = "maxminddb.open_database(path, maxminddb.MODE_MEMORY), if it reads with the maxminddb module"
	case name == "MaxMind DB Java reader" || x.Library != nil && x.Library.Lang == "Java":
		f.How = "with the MaxMind DB Java reader, open it with FileMode.MEMORY (new Reader(file, Reader.FileMode.MEMORY), or DatabaseReader.Builder(file).fileMode(Reader.FileMode.MEMORY))"
	}
	f.Here = evidence
	return f
}

// panicOnFaultFix is the last resort for Go readers; ok is false when the
// reader is not Go code.
func panicOnFaultFix(x *Explanation, evidence []string) (Fix, bool) {
	goReader := x.Library != nil && x.Library.Go() || x.Library == nil && (x.Kind == Fault || x.Kind == Recovered)
	if !goReader {
		x.Notes = append(x.Notes, "debug.SetPanicOnFault is no remedy here: it only helps Go code, and this reader is not Go (or its Go trace is missing).")
		return Fix{}, false
	}
	title := "Last resort: debug.SetPanicOnFault + recover + reopen"
	if x.Kind == Recovered {
		title = "Last resort (already in place): debug.SetPanicOnFault + recover + reopen"
	}
	return Fix{Title: title,
		How:  "call debug.SetPanicOnFault(true) in every goroutine that does lookups, recover the runtime.Error (test its Addr(): its text says nil pointer dereference even for a SIGBUS), refuse lookups until the file has been reopened, and protect the reopen the same way",
		Cost: "it only catches faults in Go code in the goroutine that set it; a cgo reader (libmaxminddb) still dies; lookups during a rewrite can return wrong answers with no fault at all; the reopen reads the file being rewritten and must be protected too.",
		Here: evidence,
	}, true
}

// adviseUnmapped explains a SIGSEGV at an address that is not mapped.
func adviseUnmapped(x *Explanation) {
	x.ReproduceNote = "No combination of the matrix reproduces a SIGSEGV: an update of a mapped file raises SIGBUS in its readers. A SIGSEGV means the mapping itself went away, or the reader followed a bad pointer."
	if x.Kind == Killed && (x.Library == nil || !x.Library.Go()) {
		x.Cause = "A reader killed by SIGSEGV touched an address that is not mapped, or not readable. In a reader of a mapped database that is usually a use after close (the mapping was removed while a lookup still used it) or a bug in the reader; truncating a mapped file raises SIGBUS instead. If the database is rewritten in place, a reader that trusts offsets read from it can also be led outside the mapping."
		p := truncatingPatterns[1]
		p.What += " (less likely than a use after close)"
		x.Patterns = []Pattern{p}
		x.Fixes = []Fix{closeAfterUseFix(false), {Title: "Replace the file atomically",
			How:  "write a temporary file in the same directory, fsync, rename(2) it over the live path, so a reader never sees a file change under it",
			Cost: "disk space for two copies during the update"}}
		return
	}
	x.Cause = "The address is not mapped at all: the mapping was removed (munmap) while a lookup still used it. In a reader of a mapped database this is a reader Closed while other goroutines still looked up in it (a reload that swaps in a new reader and closes the old one at once), or a value pointing into the mapping kept after Close."
	x.Fixes = []Fix{closeAfterUseFix(true), inMemoryFix(x, nil)}
	x.Fixes[1].Cost = "RAM equal to the file size in every process; the buffer lives as long as anything refers to it, so nothing is unmapped under a lookup."
}

func closeAfterUseFix(goReader bool) Fix {
	f := Fix{Title: "Close the old reader only after the lookups that use it are done",
		How:  "swap readers under a lock or with reference counting, and close (unmap) the old one only when no lookup holds it; or do not close it until the process exits",
		Cost: "the old mapping stays until its last lookup ends: more address space and page cache for a while"}
	if goReader {
		f.How = "swap readers through an atomic.Pointer or under a sync.RWMutex, and Close the old one when no lookup holds it (reference counting, or a grace period); or do not Close it until the process exits"
	}
	return f
}
