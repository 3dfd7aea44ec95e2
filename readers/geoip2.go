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
func (GeoIP2City) Open(path string) (DB, error) { return openGeoIP2(path, false) }

// GeoIP2Enterprise is GeoIP2City with Enterprise lookups
// (geoip2-golang.(*Reader).Enterprise, the frames of a service that reads
// GeoIP2-Enterprise) on a GeoIP2-Enterprise fixture
// (fixtures.KindEnterprise), whose City fields carry the same self-check.
type GeoIP2Enterprise struct{}

// Open maps path with geoip2.Open.
func (GeoIP2Enterprise) Open(path string) (DB, error) { return openGeoIP2(path, true) }

func openGeoIP2(path string, enterprise bool) (DB, error) {
	r, err := geoip2.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geoip2.Open(%s): %w", path, err)
	}
	return geoip2DB{r, enterprise}, nil
}

type geoip2DB struct {
	r          *geoip2.Reader
	enterprise bool
}

// errNeedsTyped is returned when the oracle wants raw records (a user's own
// pair): typed lookups cannot give them.
var errNeedsTyped = errors.New("the geoip2 readers decode typed City or Enterprise records: they need a generated fixture of kind geoip2-city or geoip2-enterprise, not raw records")

func (d geoip2DB) Lookup(ip netip.Addr, rec any) (bool, error) {
	out, ok := rec.(*fixtures.Record)
	if !ok {
		return false, errNeedsTyped
	}
	var names map[string]string
	var iso, postal string
	if d.enterprise {
		e, err := d.r.Enterprise(net.IP(ip.AsSlice()))
		if err != nil {
			return false, fmt.Errorf("Enterprise(%s): %w", ip, err)
		}
		names, iso, postal = e.City.Names, e.Country.IsoCode, e.Postal.Code
	} else {
		c, err := d.r.City(net.IP(ip.AsSlice()))
		if err != nil {
			return false, fmt.Errorf("City(%s): %w", ip, err)
		}
		names, iso, postal = c.City.Names, c.Country.IsoCode, c.Postal.Code
	}
	*out = fixtures.Record{Network: names["en"], Version: iso}
	if check, err := strconv.ParseUint(postal, 16, 32); err == nil {
		out.Check = uint32(check)
	}
	return out.Network != "" || out.Version != "" || postal != "", nil
}

func (d geoip2DB) Close() error { return d.r.Close() }
