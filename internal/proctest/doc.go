// Package proctest finds live processes by their command line, so specs can
// prove that nothing the harness started outlived it.
package proctest
