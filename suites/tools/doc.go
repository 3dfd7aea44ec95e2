// Package tools_test is the real-tools suite: common Unix updaters (cp, mv,
// rsync, a shell redirection, install, ln -sfn), each raced through
// `mapchaos check --writer-cmd` against the mmap and bytes readers, and
// stepped through `check --mode step`, with the verdicts they really earn on
// this kind of machine and one line on why. A race may miss a narrow window,
// so its table can list several verdicts; the step table lists one. Entries
// are labelled tool:NAME, and the tables race and step:
//
//	go tool ginkgo --label-filter='tool:rsync-inplace && step' ./suites/tools
//
// rsync must be installed (apt-get install rsync). The fixture is the
// default pair (16 MiB, B 60% of A); the reports stay in
// mapchaos-out/tools/MODE/NAME at the repository root (MAPCHAOS_OUT moves them).
// MAPCHAOS_BIN names a prebuilt mapchaos instead of building one.
package tools_test
