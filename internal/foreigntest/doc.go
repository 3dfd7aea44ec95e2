// Package foreigntest gives specs the example foreign reader of
// readers/foreign (Python, reading through libmaxminddb's mmap): its
// command when Debian's python3-maxminddb is installed, a skip when it is
// not, and a failure when it is not under CI, which must install it.
package foreigntest
