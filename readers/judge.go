package readers

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/verdicts"
)

// Judged is how one lookup was answered, judged by an oracle.
type Judged struct {
	Answer verdicts.Answer
	IP     netip.Addr
	// Err is the lookup's own error (Failed, Faulted: a *FaultError).
	Err error
	// Why says what is wrong with a Wrong answer.
	Why error
}

// Detail says what was wrong with the answer, "" when it was right. It is
// built only when asked for: on a torn file a lookup's error can quote
// megabytes of garbage, and callers that only count never ask.
func (j Judged) Detail() string {
	var fe *FaultError
	switch {
	case j.Answer == verdicts.Faulted && errors.As(j.Err, &fe):
		return fmt.Sprintf("lookup of %s: memory fault at %#x", j.IP, fe.Addr)
	case j.Answer == verdicts.Failed:
		return fmt.Sprintf("lookup of %s: %v", j.IP, j.Err)
	case j.Answer == verdicts.Wrong:
		return j.Why.Error()
	}
	return ""
}

// Judge is the one judge of a lookup, in every mode: how the lookup of ip
// that gave (rec, found, err) was answered, judged by o. A *FaultError is
// a memory fault, ErrNeedsReopen and any other error a failed lookup.
func Judge(o fixtures.Oracle, ip netip.Addr, rec any, found bool, err error) Judged {
	j := Judged{IP: ip, Err: err}
	var fe *FaultError
	switch {
	case errors.As(err, &fe):
		j.Answer = verdicts.Faulted
	case err != nil:
		j.Answer = verdicts.Failed
	default:
		if j.Why = o.Check(ip, rec, found); j.Why != nil {
			j.Answer = verdicts.Wrong
		}
	}
	return j
}

// JudgeJSON judges a foreign reader's answer to the lookup of ip: the
// record it sent (raw), or the error it answered (err).
func JudgeJSON(o fixtures.Oracle, ip netip.Addr, raw json.RawMessage, err error) Judged {
	j := Judged{IP: ip, Err: err}
	switch {
	case err != nil:
		j.Answer = verdicts.Failed
	default:
		if j.Why = o.CheckJSON(ip, raw); j.Why != nil {
			j.Answer = verdicts.Wrong
		}
	}
	return j
}
