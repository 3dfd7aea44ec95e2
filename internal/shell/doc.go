// Package shell reads and writes command lines the way a POSIX shell
// would, without ever running one. Quote and Join render words so that the
// commands mapchaos prints (repro commands, updater commands) can be
// pasted back; Split turns a line such as
// `sh -c 'cp "$1" "$2"' sh {new} {target}` into the argv a program is
// started with.
//
// Split expands nothing. It refuses only what cannot work without a shell:
// an unquoted operator (| && ; > ...), which a program would receive as a
// plain argument, and an expansion ($VAR, $(...), `...`) in a word that no
// shell will ever see. An expansion is fine in the script of a shell run
// with -c (`sh -c "dd if=$1 of=$2" sh {new} {target}`): that shell expands
// it.
package shell
