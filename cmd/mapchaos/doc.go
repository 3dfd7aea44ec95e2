// Command mapchaos races updaters of a memory-mapped file against readers
// of it, in real processes, and reports which combinations crash, and how.
//
//	mapchaos matrix  [--config ginkgo.yml] [--writers a,b] [--readers x,y] [--seed N] [--out DIR]
//	mapchaos list
//
// Exit status: 0 every expectation held; 1 an expectation failed; 2 bad
// usage, config or input; 3 the harness itself failed.
//
// `mapchaos reader ...` is the reader child the harness starts; it is not
// meant to be run by hand.
package main
