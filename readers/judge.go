package readers

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"

	"github.com/oschwald/maxminddb-golang"

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
// megabytes of garbage, and callers that only count never ask; the garbage
// a decoding error quotes is cut to maxErrorText bytes.
func (j Judged) Detail() string {
	var fe *FaultError
	switch {
	case j.Answer == verdicts.Faulted && errors.As(j.Err, &fe):
		return fmt.Sprintf("lookup of %s: memory fault at %#x", j.IP, fe.Addr)
	case j.Answer == verdicts.Failed:
		err := j.Err
		if le, ok := err.(*lookupError); ok && le.ip == j.IP {
			err = le.err // said once: "lookup of IP: the library's error"
		}
		return "lookup of " + j.IP.String() + ": " + errorText(err, maxErrorText)
	case j.Answer == verdicts.Wrong:
		return j.Why.Error()
	}
	return ""
}

// maxErrorText bounds the value a decoding error quotes in a Detail.
const maxErrorText = 1024

// errorText is err's text, with the value a maxminddb-golang v1 decoding
// error quotes cut to n bytes before the text is made: on a torn file that
// value can be megabytes of garbage, formatted again at every copy.
func errorText(err error, n int) string {
	if te, ok := err.(maxminddb.UnmarshalTypeError); ok {
		return "maxminddb: cannot unmarshal " + truncate(te.Value, n) + " into type " + te.Type.String()
	}
	return err.Error()
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
