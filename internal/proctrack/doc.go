// Package proctrack follows every process that a command starts, however
// it leaves its parent (a daemon that forks twice and calls setsid), so
// that the starter can name and kill what outlived the command.
//
// A Tracker uses a cgroup v2 of its own where the harness may create one
// (a writable cgroup2 mount, as root): the command is put in it at clone
// time (SysProcAttr.UseCgroupFD), every descendant stays in it, and
// cgroup.kill ends them all at once. Elsewhere (no cgroup2 mounted, as in
// the arm64 guest, or no write access) it marks the command's environment
// with MAPCHAOS_TRACK=<token>, which every descendant inherits, and finds
// them by scanning /proc; only a process that clears its environment
// escapes that. Mechanism says which one a Tracker uses.
package proctrack
