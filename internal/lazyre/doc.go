// Package lazyre holds regular expressions that are compiled the first
// time they are used, not when the program starts. Every reader child is a
// new mapchaos process, and under emulation compiling the trace parsers'
// expressions at start-up took a third of its time to say "ready".
package lazyre
