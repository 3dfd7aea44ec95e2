package step

import (
	"os"
	"runtime"
	"runtime/debug"

	"golang.org/x/sys/unix"
)

// populate reports whether every page of m can be read. It reads one byte
// of each page, with a fault turned into a panic it recovers, a window at
// a time, and unmaps each window's pages again (MADV_DONTNEED on a shared
// file mapping only drops the page table entries), so that probing a
// large mapping does not make the whole file resident in the harness.
//
// Not MADV_POPULATE_READ, which would save the faults: before Linux 6.9
// (commit 631426ba1d45) it retries for ever where reading the page fails
// with an I/O error, as a page of a file replaced on an NFSv3 server does
// (stale file handle), where a load from the page gets SIGBUS. Debian
// 12's kernel is 6.1: the stepped NFSv3 run hung there on its second
// update.
func populate(m []byte) bool {
	page := os.Getpagesize()
	for off := 0; off < len(m); off += sumWindow {
		w := m[off:min(off+sumWindow, len(m))]
		ok := touchPages(w, page)
		_ = unix.Madvise(w, unix.MADV_DONTNEED)
		if !ok {
			return false
		}
	}
	return true
}

// touchPages loads one byte of every page of w (which starts on a page
// boundary) and reports whether none faulted.
func touchPages(w []byte, page int) (ok bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, fault := r.(interface{ Addr() uintptr }); !fault {
				panic(r)
			}
			ok = false
		}
	}()
	var sum byte
	for i := 0; i < len(w); i += page {
		sum ^= w[i]
	}
	runtime.KeepAlive(sum) // the loads are the point
	return true
}
