package harness

import (
	"context"
	"fmt"

	"github.com/mapchaos/mapchaos/config"
	"github.com/mapchaos/mapchaos/fixtures"
)

// InputError is bad input from the user (a config, a flag, a file they
// named): the CLI exits 2 for it. Its text is the underlying error's.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// badInput wraps err as an *InputError.
func badInput(err error) error { return &InputError{Err: err} }

// Badf is an *InputError built like fmt.Errorf.
func Badf(format string, a ...any) error { return badInput(fmt.Errorf(format, a...)) }

// ResolveFixture returns the pair f names: the user's own pair (checked,
// with IPs sampled from both by seed; a bad file is an *InputError), or the
// generated pair of its spec, from cache (generated once and kept there).
func ResolveFixture(ctx context.Context, f config.Fixture, seed int64, cache string) (fixtures.Pair, error) {
	if f.Old != "" {
		pair, err := fixtures.LoadPairContext(ctx, f.Old, f.New, uint64(seed))
		if err != nil {
			return pair, badInput(fmt.Errorf("fixture: %w", err))
		}
		return pair, nil
	}
	if cache == "" {
		cache = fixtures.DefaultCacheDir()
	}
	pair, err := fixtures.Generate(ctx, f.Spec(), cache)
	if err != nil {
		return pair, fmt.Errorf("fixture: %w", err)
	}
	return pair, nil
}

// oracle returns what judges the readers' answers on pair in this
// process: the universe of a generated pair, or pristine copies of a
// user's own.
func oracle(pair fixtures.Pair) (fixtures.Oracle, error) {
	if !pair.Own() {
		return pair.Universe, nil
	}
	p, err := fixtures.OpenPristine(pair.A, pair.B, pair.Samples)
	if err != nil {
		return nil, fmt.Errorf("fixture: %w", err)
	}
	return p, nil
}

// FixtureText describes a pair for reports and progress lines.
func FixtureText(p fixtures.Pair) string {
	if p.Own() {
		return fmt.Sprintf("your own pair: old %s (%s), new %s (%s), %d sampled IPs from the networks of both",
			p.A, humanBytes(p.SizeA), p.B, humanBytes(p.SizeB), len(p.Samples))
	}
	kind := ""
	if p.Spec.Kind != "" {
		kind = ", records of kind " + p.Spec.Kind
	}
	return fmt.Sprintf("generated pair: A %s, B %s (%s%s), universe %d /24 networks from %s",
		humanBytes(p.SizeA), humanBytes(p.SizeB), p.Spec.Shape, kind, p.Universe.Blocks, p.Universe.First)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
