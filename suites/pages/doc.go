// Package pages holds the page-boundary suite: what a process that has a
// file mapped sees past the end of the file after another process
// truncates it, on the page size of the kernel it runs on.
//
// A truncation to S bytes leaves the bytes from S up to the next page
// boundary mapped, reading as zeros; only a touch at or past that boundary
// raises SIGBUS. So the larger the page, the more of the old layout reads
// as zeros instead of faulting: after a truncation to 5*4096+100 bytes,
// offset 6*4096+100 kills a reader with SIGBUS on a 4 KiB-page kernel and
// reads a zero on a 16 KiB-page one (a crash becomes a wrong answer, or
// nothing). The specs compute what to expect from os.Getpagesize and check
// it in a real child process (the test binary re-run as "pages-touch"), so
// the same suite passes on both and its report shows which it saw. It runs
// on the host, and in the arm64 guest with either page size:
//
//	mapchaos-vm suites --packages ./suites/pages --page-size 16k
package pages
