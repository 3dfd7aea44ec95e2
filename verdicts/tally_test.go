package verdicts_test

import (
	"testing"

	"github.com/mapchaos/mapchaos/verdicts"
)

func TestJudge(t *testing.T) {
	var (
		errs   = verdicts.Tally{Lookups: 10, Right: 9, Errors: 1}
		opens  = verdicts.Tally{OpenErrors: 1}
		faults = verdicts.Tally{Lookups: 10, Right: 9, Faults: 1}
		wrong  = verdicts.Tally{Lookups: 10, Right: 8, Wrong: 1, Errors: 1}
		both   = verdicts.Tally{Lookups: 10, Right: 8, Wrong: 1, Faults: 1}
	)
	for _, c := range []struct {
		name     string
		t        verdicts.Tally
		recovers bool
		end      verdicts.End
		want     verdicts.Verdict
	}{
		{"nothing wrong", verdicts.Tally{Lookups: 5, Right: 5}, false, verdicts.Lived, verdicts.Safe},
		{"a lookup error", errs, false, verdicts.Lived, verdicts.Degraded},
		{"a failed open", opens, true, verdicts.Lived, verdicts.Degraded},
		{"a fault, recovered", faults, true, verdicts.Lived, verdicts.Recovered},
		{"a fault, not recovered: the process dies of it", faults, false, verdicts.Lived, verdicts.Crash},
		{"a wrong answer outweighs an error", wrong, false, verdicts.Lived, verdicts.Corrupt},
		{"a wrong answer outweighs a recovered fault", both, true, verdicts.Lived, verdicts.Corrupt},
		{"an unrecovered fault outweighs a wrong answer", both, false, verdicts.Lived, verdicts.Crash},
		{"hung with nothing worse", errs, false, verdicts.Hung, verdicts.Stuck},
		{"hung after serving a wrong answer", wrong, false, verdicts.Hung, verdicts.Corrupt},
		{"died", verdicts.Tally{}, true, verdicts.Died, verdicts.Crash},
	} {
		if got := verdicts.Judge(c.t, c.recovers, c.end); got != c.want {
			t.Errorf("%s: Judge = %s, want %s", c.name, got, c.want)
		}
	}
}

func TestTally(t *testing.T) {
	var a verdicts.Tally
	for _, x := range []verdicts.Answer{verdicts.Right, verdicts.Right, verdicts.Wrong, verdicts.Failed, verdicts.Faulted} {
		a.Count(x)
	}
	want := verdicts.Tally{Lookups: 5, Right: 2, Wrong: 1, Errors: 1, Faults: 1}
	if a != want {
		t.Fatalf("Count: %+v, want %+v", a, want)
	}
	a.Add(verdicts.Tally{Lookups: 1, Right: 1, Opens: 2, OpenErrors: 1})
	want.Lookups, want.Right, want.Opens, want.OpenErrors = 6, 3, 2, 1
	if a != want {
		t.Fatalf("Add: %+v, want %+v", a, want)
	}
}
