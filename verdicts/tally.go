package verdicts

// Tally counts what one reader met, or several: its lookups by how they
// were answered, and its opens. Reader children report it on their stdout,
// step mode keeps one per reader, role and state, and a result holds the
// sum (report.json's "answers").
type Tally struct {
	Lookups int64 `json:"lookups"`
	// Right, Wrong, Errors and Faults split the answered lookups: the
	// right record, a record right for neither version, an error, a
	// memory fault recovered inside the reader.
	Right  int64 `json:"right"`
	Errors int64 `json:"errors"`
	Wrong  int64 `json:"wrong"`
	Faults int64 `json:"faults"`
	// OpenErrors counts failed opens and reloads, Opens good ones.
	OpenErrors int64 `json:"open_errors"`
	Opens      int64 `json:"opens"`
}

// Answer is how one lookup was answered.
type Answer int

// The ways a lookup can be answered.
const (
	// Right: the record of that IP in one of the versions.
	Right Answer = iota
	// Wrong: a record right for that IP in neither version, with no error.
	Wrong
	// Failed: the lookup returned an error.
	Failed
	// Faulted: the lookup hit a memory fault (SIGBUS, SIGSEGV).
	Faulted
)

// Count adds one lookup answered a.
func (t *Tally) Count(a Answer) {
	t.Lookups++
	switch a {
	case Right:
		t.Right++
	case Wrong:
		t.Wrong++
	case Failed:
		t.Errors++
	case Faulted:
		t.Faults++
	}
}

// Add adds every count of o to t.
func (t *Tally) Add(o Tally) {
	t.Lookups += o.Lookups
	t.Right += o.Right
	t.Errors += o.Errors
	t.Wrong += o.Wrong
	t.Faults += o.Faults
	t.OpenErrors += o.OpenErrors
	t.Opens += o.Opens
}

// End is how a reader's process ended, beyond what it answered.
type End int

// The ends of a reader process.
const (
	// Lived: it ran until it was asked to stop.
	Lived End = iota
	// Hung: it stopped making progress and was killed.
	Hung
	// Died: it died by itself (a signal, a Go fatal error, an exit).
	Died
)

// Judge is the one rule that turns what a reader met into its verdict,
// in race and step mode alike: the most severe of what it lived through.
// recovers says whether the reader recovers memory faults (SetPanicOnFault):
// one that does not dies of its first fault, which is a crash even where
// the harness caught the fault for it (a step probe).
func Judge(t Tally, recovers bool, end End) Verdict {
	v := Safe
	if t.Errors > 0 || t.OpenErrors > 0 {
		v = Degraded
	}
	if t.Faults > 0 && recovers {
		v = Recovered
	}
	if t.Wrong > 0 {
		v = Corrupt
	}
	if t.Faults > 0 && !recovers {
		v = Crash
	}
	switch end {
	case Hung:
		v = max(v, Stuck)
	case Died:
		v = Crash
	}
	return v
}
