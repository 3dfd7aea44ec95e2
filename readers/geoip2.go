package readers

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/oschwald/geoip2-golang"

	"github.com/mapchaos/mapchaos/fixtures"
)

// GeoIP2City opens the target with geoip2-golang (maxminddb v1 Open
// underneath: a MAP_SHARED mapping) and makes typed City lookups, as Go
// services built on geoip2-golang do, so a crash shows the same frames a
// production trace would (geoip2-golang.(*Reader).City). It needs a
// GeoIP2-City-shaped fixture (fixtures.KindCity), whose City fields carry
// the self-check: city name = network, country iso_code = version, postal
// code = check.
type GeoIP2City struct{}

// Open maps path with geoip2.Open.
func (GeoIP2City) Open(path string) (DB, error) {
	r, err := geoip2.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geoip2.Open(%s): %w", path, err)
	}
	return geoip2DB{r}, nil
}

type geoip2DB struct{ r *geoip2.Reader }

// errNeedsCity is returned when the oracle wants raw records (a user's own
// pair): typed lookups cannot give them.
var errNeedsCity = errors.New("the geoip2-city reader decodes typed City records: it needs a generated GeoIP2-City fixture (fixture kind geoip2-city), not raw records")

func (d geoip2DB) Lookup(ip netip.Addr, rec any) (bool, error) {
	out, ok := rec.(*fixtures.Record)
	if !ok {
		return false, errNeedsCity
	}
	c, err := d.r.City(net.IP(ip.AsSlice()))
	if err != nil {
		return false, fmt.Errorf("City(%s): %w", ip, err)
	}
	*out = fixtures.Record{Network: c.City.Names["en"], Version: c.Country.IsoCode}
	if check, err := strconv.ParseUint(c.Postal.Code, 16, 32); err == nil {
		out.Check = uint32(check)
	}
	return out.Network != "" || out.Version != "" || c.Postal.Code != "", nil
}

func (d geoip2DB) Close() error { return d.r.Close() }
