// Package verdicts defines the outcome words of mapchaos and their order of
// severity: safe < degraded < recovered < stuck < corrupt < crash.
//
// A reader process earns one outcome (the most severe thing that happened to
// it); a combination of writer and reader earns the most severe outcome of its
// readers. The words are part of the report contract (docs/contracts.md) and are
// spelled exactly as String returns them.
package verdicts
