package readers

import (
	"fmt"
	"net/netip"
	"strconv"

	geoip2v2 "github.com/oschwald/geoip2-golang/v2"

	"github.com/mapchaos/mapchaos/fixtures"
)

// GeoIP2V2City opens the target with geoip2-golang/v2 (maxminddb-golang/v2
// Open underneath: a MAP_SHARED mapping whose descriptor is closed at once)
// and makes typed City lookups, as services started on the v2 API do, so a
// crash shows the frames of geoip2-golang/v2.(*Reader).City. It needs the
// same fixture as GeoIP2City (fixtures.KindCity).
type GeoIP2V2City struct{}

// Open maps path with geoip2-golang/v2's Open.
func (GeoIP2V2City) Open(path string) (DB, error) { return openGeoIP2V2(path, false) }

// GeoIP2V2Enterprise is GeoIP2V2City with Enterprise lookups
// (geoip2-golang/v2.(*Reader).Enterprise) on a GeoIP2-Enterprise fixture
// (fixtures.KindEnterprise).
type GeoIP2V2Enterprise struct{}

// Open maps path with geoip2-golang/v2's Open.
func (GeoIP2V2Enterprise) Open(path string) (DB, error) { return openGeoIP2V2(path, true) }

func openGeoIP2V2(path string, enterprise bool) (DB, error) {
	r, err := geoip2v2.Open(path)
	if err != nil {
		if r != nil {
			_ = r.Close() // opened, but of a database type it has no typed lookups for
		}
		return nil, fmt.Errorf("geoip2/v2.Open(%s): %w", path, err)
	}
	return geoip2V2DB{r, enterprise}, nil
}

type geoip2V2DB struct {
	r          *geoip2v2.Reader
	enterprise bool
}

func (d geoip2V2DB) Lookup(ip netip.Addr, rec any) (bool, error) {
	out, ok := rec.(*fixtures.Record)
	if !ok {
		return false, errNeedsTyped
	}
	var name, iso, postal string
	if d.enterprise {
		e, err := d.r.Enterprise(ip)
		if err != nil {
			return false, fmt.Errorf("Enterprise(%s): %w", ip, err)
		}
		name, iso, postal = e.City.Names.English, e.Country.ISOCode, e.Postal.Code
	} else {
		c, err := d.r.City(ip)
		if err != nil {
			return false, fmt.Errorf("City(%s): %w", ip, err)
		}
		name, iso, postal = c.City.Names.English, c.Country.ISOCode, c.Postal.Code
	}
	*out = fixtures.Record{Network: name, Version: iso}
	if check, err := strconv.ParseUint(postal, 16, 32); err == nil {
		out.Check = uint32(check)
	}
	return out.Network != "" || out.Version != "" || postal != "", nil
}

func (d geoip2V2DB) Close() error { return d.r.Close() }
