package step

// Exported for the specs of package step_test.
var (
	CheckYama    = checkYama
	SameName     = sameName
	SameStrategy = sameStrategy
)

// SeizeFailure classifies err as a failed PTRACE_SEIZE would be.
func SeizeFailure(err error) error { return seizeFailure(&seizeError{err: err}) }
