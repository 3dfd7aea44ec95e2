package readers

import (
	"fmt"
	"net/netip"

	maxminddbv2 "github.com/oschwald/maxminddb-golang/v2"
)

// MmapV2 opens the target with maxminddb-golang/v2's Open, which maps the
// file (MAP_SHARED) and closes the descriptor at once: the mapping is all
// that keeps the old inode readable. No protection against faults.
type MmapV2 struct{}

// Open maps path with maxminddb v2.
func (MmapV2) Open(path string) (DB, error) {
	r, err := maxminddbv2.Open(path)
	if err != nil {
		return nil, fmt.Errorf("maxminddb/v2.Open(%s): %w", path, err)
	}
	return v2DB{r}, nil
}

type v2DB struct{ r *maxminddbv2.Reader }

func (d v2DB) Lookup(ip netip.Addr, rec any) (bool, error) {
	res := d.r.Lookup(ip)
	if err := res.Err(); err != nil {
		return false, fmt.Errorf("lookup %s: %w", ip, err)
	}
	if !res.Found() {
		return false, nil
	}
	if err := res.Decode(rec); err != nil {
		return false, fmt.Errorf("decode %s: %w", ip, err)
	}
	return true, nil
}

func (d v2DB) Close() error { return d.r.Close() }
