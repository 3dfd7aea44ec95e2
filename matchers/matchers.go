package matchers

import (
	"fmt"
	"strings"

	"github.com/onsi/gomega/format"
	"github.com/onsi/gomega/types"

	"github.com/mapchaos/mapchaos/verdicts"
)

// Outcomer is what the matchers need: a verdict and an account of it.
// results.Result and reports.Entry have it.
type Outcomer interface {
	Outcome() (verdicts.Verdict, string)
}

// HaveVerdict succeeds when the observed verdict is one of vs.
func HaveVerdict(vs ...verdicts.Verdict) types.GomegaMatcher {
	return &verdictMatcher{want: vs}
}

// BeSafe succeeds when the verdict is safe.
func BeSafe() types.GomegaMatcher { return HaveVerdict(verdicts.Safe) }

// Crash succeeds when a reader process died.
func Crash() types.GomegaMatcher { return HaveVerdict(verdicts.Crash) }

// BeNoWorseThan succeeds when the verdict is v or less severe.
func BeNoWorseThan(v verdicts.Verdict) types.GomegaMatcher {
	return &verdictMatcher{want: verdicts.All[:v+1], worst: true}
}

type verdictMatcher struct {
	want  []verdicts.Verdict
	worst bool // described as "no worse than"
}

func (m *verdictMatcher) outcome(actual any) (verdicts.Verdict, string, error) {
	o, ok := actual.(Outcomer)
	if !ok {
		return 0, "", fmt.Errorf("verdict matchers expect a race result (results.Result or reports.Entry), got:\n%s", format.Object(actual, 1))
	}
	v, text := o.Outcome()
	return v, text, nil
}

func (m *verdictMatcher) Match(actual any) (bool, error) {
	v, _, err := m.outcome(actual)
	if err != nil {
		return false, err
	}
	for _, w := range m.want {
		if v == w {
			return true, nil
		}
	}
	return false, nil
}

func (m *verdictMatcher) wanted() string {
	if m.worst {
		return "no worse than " + m.want[len(m.want)-1].String()
	}
	ws := make([]string, len(m.want))
	for i, w := range m.want {
		ws[i] = w.String()
	}
	if len(ws) == 1 {
		return ws[0]
	}
	return "one of " + strings.Join(ws, ", ")
}

func (m *verdictMatcher) FailureMessage(actual any) string {
	v, text, _ := m.outcome(actual)
	return fmt.Sprintf("Expected the verdict to be %s, but observed %s\n%s", m.wanted(), v, text)
}

func (m *verdictMatcher) NegatedFailureMessage(actual any) string {
	v, text, _ := m.outcome(actual)
	return fmt.Sprintf("Expected the verdict not to be %s, but observed %s\n%s", m.wanted(), v, text)
}

// MatchMayChangeInTheFuture is false: a finished race does not change, so
// Eventually and Consistently can stop at once.
func (m *verdictMatcher) MatchMayChangeInTheFuture(actual any) bool { return false }
