package logwrites

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Magic and Version are the log super block's first two fields, as
// drivers/md/dm-log-writes.c writes them.
const (
	Magic   = 0x6a736677736872
	Version = 1
)

// Flags of a log entry (drivers/md/dm-log-writes.c).
const (
	FlagFlush    uint64 = 1 << 0 // REQ_PREFLUSH: everything logged before it is on disk
	FlagFUA      uint64 = 1 << 1 // REQ_FUA: this write is on disk when it completes
	FlagDiscard  uint64 = 1 << 2 // a discard: the sectors read back as zeros here
	FlagMark     uint64 = 1 << 3 // a mark from userspace (dmsetup message ... mark NAME)
	FlagMetadata uint64 = 1 << 4 // REQ_META: file system metadata
)

// Entry is one entry of the log: a write, a flush, a discard or a mark.
type Entry struct {
	// Index is the entry's number, from 1 (0 stands for "before the log").
	Index int
	// Sector and Sectors are where the write went on the data device, in
	// the log's sectors (SectorSize bytes each).
	Sector, Sectors uint64
	Flags           uint64
	// Mark is a mark's name.
	Mark string
	// data is where the written bytes start in the log.
	data int64
}

// Barrier reports whether e is a flush or a FUA write: a point at which
// the kernel knew what it had written was on the disk.
func (e Entry) Barrier() bool { return e.Flags&(FlagFlush|FlagFUA) != 0 }

// Kind says what e is in a word or two: "mark NAME", "flush", "fua write",
// "write", "discard", "flush+fua write" ...
func (e Entry) Kind() string {
	if e.Flags&FlagMark != 0 {
		return "mark " + e.Mark
	}
	var parts []string
	if e.Flags&FlagFlush != 0 {
		parts = append(parts, "flush")
	}
	if e.Flags&FlagFUA != 0 {
		parts = append(parts, "fua")
	}
	switch {
	case e.Flags&FlagDiscard != 0:
		parts = append(parts, "discard")
	case e.Sectors > 0 && e.Flags&FlagMetadata != 0:
		parts = append(parts, "metadata write")
	case e.Sectors > 0:
		parts = append(parts, "write")
	}
	return strings.Join(parts, "+")
}

// Log is a dm-log-writes log, read from its device (or a copy of it).
type Log struct {
	// SectorSize is the data device's logical block size: the unit of
	// Entry.Sector and Entry.Sectors.
	SectorSize uint32
	Entries    []Entry
	f          *os.File
}

// superSize is the size of struct log_write_super; entrySize of struct
// log_write_entry.
const (
	superSize = 28
	entrySize = 32
)

// Open reads the super block and every entry's header of the log at path.
func Open(path string) (*Log, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dm-log-writes log: %w", err)
	}
	l, err := read(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("dm-log-writes log %s: %w", path, err)
	}
	return l, nil
}

// read parses the log in f.
func read(f *os.File) (*Log, error) {
	var sb [superSize]byte
	if _, err := f.ReadAt(sb[:], 0); err != nil {
		return nil, fmt.Errorf("super block: %w", err)
	}
	le := binary.LittleEndian
	if m := le.Uint64(sb[0:]); m != Magic {
		return nil, fmt.Errorf("magic %#x, want %#x: not a dm-log-writes log", m, uint64(Magic))
	}
	if v := le.Uint64(sb[8:]); v != Version {
		return nil, fmt.Errorf("version %d, want %d", v, Version)
	}
	n := le.Uint64(sb[16:])
	l := &Log{SectorSize: le.Uint32(sb[24:]), f: f}
	if l.SectorSize < 512 || l.SectorSize&(l.SectorSize-1) != 0 {
		return nil, fmt.Errorf("sector size %d: want a power of two of at least 512", l.SectorSize)
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	ss := int64(l.SectorSize)
	off := ss
	buf := make([]byte, ss)
	for i := uint64(1); i <= n; i++ {
		if off+ss > st.Size() {
			return nil, fmt.Errorf("entry %d of %d at byte %d: past the end of the log (%d bytes)", i, n, off, st.Size())
		}
		if _, err := f.ReadAt(buf, off); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		e := Entry{Index: int(i), Sector: le.Uint64(buf[0:]), Sectors: le.Uint64(buf[8:]), Flags: le.Uint64(buf[16:]), data: off + ss}
		dlen := le.Uint64(buf[24:])
		switch {
		case e.Flags&FlagMark != 0:
			if dlen > uint64(ss-entrySize) {
				return nil, fmt.Errorf("entry %d: a mark of %d bytes does not fit its block", i, dlen)
			}
			e.Mark = string(buf[entrySize : entrySize+dlen])
		case dlen != 0:
			return nil, fmt.Errorf("entry %d: %d bytes of inline data (a DAX device's log): not supported", i, dlen)
		}
		off += ss
		if e.Flags&FlagDiscard == 0 {
			off += int64(e.Sectors) * ss
		}
		if off > st.Size() {
			return nil, fmt.Errorf("entry %d of %d: its %d sectors of data run past the end of the log (%d bytes)", i, n, e.Sectors, st.Size())
		}
		l.Entries = append(l.Entries, e)
	}
	return l, nil
}

// Close closes the log's file.
func (l *Log) Close() error { return l.f.Close() }

// MarkIndex is the index of the first mark called name, or 0 and false.
func (l *Log) MarkIndex(name string) (int, bool) {
	for _, e := range l.Entries {
		if e.Flags&FlagMark != 0 && e.Mark == name {
			return e.Index, true
		}
	}
	return 0, false
}

// Entry is the entry of index i (from 1).
func (l *Log) Entry(i int) Entry { return l.Entries[i-1] }

// MarkBefore is the name of the last mark at or before index i, "" if none.
func (l *Log) MarkBefore(i int) string {
	for j := min(i, len(l.Entries)); j >= 1; j-- {
		if e := l.Entries[j-1]; e.Flags&FlagMark != 0 {
			return e.Mark
		}
	}
	return ""
}

// Apply writes entries from+1 up to and including to onto dev, a copy of
// the data device as it was after entry from: writes are copied, discards
// punched out (they read back as zeros), flushes and marks change nothing.
func (l *Log) Apply(dev *os.File, from, to int) error {
	if from < 0 || to > len(l.Entries) || from > to {
		return fmt.Errorf("replay entries %d..%d: the log has entries 1..%d", from+1, to, len(l.Entries))
	}
	ss := int64(l.SectorSize)
	buf := make([]byte, 1<<20)
	for _, e := range l.Entries[from:to] {
		off, n := int64(e.Sector)*ss, int64(e.Sectors)*ss
		if e.Flags&FlagDiscard != 0 && n > 0 {
			if err := unix.Fallocate(int(dev.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n); err != nil {
				return fmt.Errorf("replay entry %d (discard of %d bytes at %d): %w", e.Index, n, off, err)
			}
		}
		if e.Flags&FlagDiscard != 0 {
			continue
		}
		for done := int64(0); done < n; {
			c := min(n-done, int64(len(buf)))
			if _, err := l.f.ReadAt(buf[:c], e.data+done); err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("replay entry %d: read the log: %w", e.Index, err)
			}
			if _, err := dev.WriteAt(buf[:c], off+done); err != nil {
				return fmt.Errorf("replay entry %d: write %d bytes at %d: %w", e.Index, c, off+done, err)
			}
			done += c
		}
	}
	return nil
}
