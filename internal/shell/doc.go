// Package shell quotes words for a POSIX shell, so that the commands
// mapchaos prints (repro commands, updater commands) can be pasted back.
package shell
