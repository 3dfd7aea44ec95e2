package readers

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// RingSlots is how many recent lookups a Ring keeps.
const RingSlots = 32

const (
	ringHeader = 16 // seq uint64, time of the latest lookup uint64
	ringSlot   = 16 // an IPv6-sized address
	ringSize   = ringHeader + RingSlots*ringSlot
)

// Ring is a small MAP_SHARED file in which a reader child notes each lookup
// just before making it: the address and the CLOCK_MONOTONIC time. The stores
// reach the page cache whether or not the child lives, so after a crash the
// harness reads the child's last lookups and the instant of the last one.
type Ring struct {
	mem []byte
}

// CreateRing creates (or truncates) the ring file at path and maps it.
func CreateRing(path string) (*Ring, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create ring: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(ringSize); err != nil {
		return nil, fmt.Errorf("size ring %s: %w", path, err)
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, ringSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map ring %s: %w", path, err)
	}
	return &Ring{mem: mem}, nil
}

// Note records a lookup of ip starting at time now (ns).
func (r *Ring) Note(ip netip.Addr, now int64) {
	seq := binary.LittleEndian.Uint64(r.mem[0:8])
	a := ip.As16()
	off := ringHeader + int(seq%RingSlots)*ringSlot
	copy(r.mem[off:off+ringSlot], a[:])
	binary.LittleEndian.PutUint64(r.mem[8:16], uint64(now))
	binary.LittleEndian.PutUint64(r.mem[0:8], seq+1)
}

// Close unmaps the ring.
func (r *Ring) Close() error { return unix.Munmap(r.mem) }

// RingState is what ReadRing recovers from a ring file.
type RingState struct {
	Lookups int64        // number of lookups noted
	LastAt  int64        // CLOCK_MONOTONIC ns of the latest lookup, 0 if none
	Last    []netip.Addr // the latest lookups, oldest first
}

// ReadRing reads a ring file written by a (possibly dead) reader child.
func ReadRing(path string) (RingState, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return RingState{}, fmt.Errorf("read ring: %w", err)
	}
	if len(b) != ringSize {
		return RingState{}, fmt.Errorf("ring %s: %d bytes, want %d", path, len(b), ringSize)
	}
	seq := binary.LittleEndian.Uint64(b[0:8])
	st := RingState{Lookups: int64(seq), LastAt: int64(binary.LittleEndian.Uint64(b[8:16]))}
	n := min(seq, RingSlots)
	for i := seq - n; i < seq; i++ {
		off := ringHeader + int(i%RingSlots)*ringSlot
		st.Last = append(st.Last, netip.AddrFrom16([16]byte(b[off:off+ringSlot])).Unmap())
	}
	return st, nil
}
