package readers

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/oschwald/maxminddb-golang"

	"github.com/mapchaos/mapchaos/verdicts"
)

var _ = Describe("Judged.Detail", func() {
	ip := netip.MustParseAddr("11.0.0.1")

	It("names the lookup once and gives the library's error", func() {
		j := Judged{Answer: verdicts.Failed, IP: ip, Err: &lookupError{ip: ip, err: errors.New("unexpected end of database")}}
		Expect(j.Detail()).To(Equal("lookup of 11.0.0.1: unexpected end of database"))
	})

	It("cuts the garbage a decoding error quotes, and keeps the type it was decoded into", func() {
		garbage := strings.Repeat("x", 4<<20)
		err := maxminddb.UnmarshalTypeError{Value: garbage, Type: reflect.TypeOf(uint32(0))}
		j := Judged{Answer: verdicts.Failed, IP: ip, Err: &lookupError{ip: ip, err: err}}
		Expect(j.Detail()).To(Equal("lookup of 11.0.0.1: maxminddb: cannot unmarshal " +
			garbage[:maxErrorText] + "... into type uint32"))
	})
})
