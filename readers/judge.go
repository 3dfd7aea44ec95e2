package readers

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/verdicts"
)

// Judge is the one judge of a lookup, in every mode: how the lookup of ip
// that gave (rec, found, err) was answered, judged by o, and what was
// wrong with it ("" when it was right). A *FaultError is a memory fault,
// ErrNeedsReopen and any other error a failed lookup.
func Judge(o fixtures.Oracle, ip netip.Addr, rec any, found bool, err error) (verdicts.Answer, string) {
	var fe *FaultError
	switch {
	case errors.As(err, &fe):
		return verdicts.Faulted, fmt.Sprintf("lookup of %s: memory fault at %#x", ip, fe.Addr)
	case err != nil:
		return verdicts.Failed, fmt.Sprintf("lookup of %s: %v", ip, err)
	}
	if verr := o.Check(ip, rec, found); verr != nil {
		return verdicts.Wrong, verr.Error()
	}
	return verdicts.Right, ""
}

// JudgeJSON judges a foreign reader's answer to the lookup of ip: the
// record it sent (raw), or the error it answered (err).
func JudgeJSON(o fixtures.Oracle, ip netip.Addr, raw json.RawMessage, err error) (verdicts.Answer, string) {
	if err != nil {
		return verdicts.Failed, fmt.Sprintf("lookup of %s: %v", ip, err)
	}
	if verr := o.CheckJSON(ip, raw); verr != nil {
		return verdicts.Wrong, verr.Error()
	}
	return verdicts.Right, ""
}
