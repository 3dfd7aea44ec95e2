// Package clock reads CLOCK_MONOTONIC, which every process on one machine
// shares, so the harness can line up a reader's last lookup with the step
// the writer was taking at that instant.
package clock
