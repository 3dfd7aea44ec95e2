package pages_test

import (
	"bufio"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// touchMain maps FILE (LEN bytes, read-only, shared), reads every byte so
// the whole mapping is populated, prints "mapped 0xADDR pagesize N" and
// waits for a line on stdin (the parent truncates the file meanwhile). It
// then prints what the mapping holds: "intact A" (bytes from 0 still the
// old ones), "zeros Z" (zero bytes after them, up to the page boundary),
// and finally touches
// OFF and prints "byte OFF 0xVV". A touch past the end of the file's last
// page kills it with SIGBUS before that last line.
func touchMain(args []string) int {
	if len(args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: pages-touch FILE LEN OFF")
		return 2
	}
	size, err1 := strconv.Atoi(args[1])
	off, err2 := strconv.Atoi(args[2])
	f, err := os.Open(args[0])
	if err1 != nil || err2 != nil || err != nil || off >= size {
		fmt.Fprintln(os.Stderr, "pages-touch:", err1, err2, err, "(want FILE LEN OFF, OFF < LEN)")
		return 2
	}
	m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pages-touch: mmap:", err)
		return 2
	}
	old := m[0]
	for i := range m {
		if m[i] != old {
			fmt.Fprintf(os.Stderr, "pages-touch: byte %d is %#x, not %#x like byte 0\n", i, m[i], old)
			return 2
		}
	}
	fmt.Printf("mapped %p pagesize %d\n", &m[0], os.Getpagesize())
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, "pages-touch: stdin:", err)
		return 2
	}
	// Only bytes below the end's page boundary are read here: they are
	// mapped whatever the page size.
	end := 0
	for end < size && m[end] == old {
		end++
	}
	page := os.Getpagesize()
	zeros := 0
	for limit := min(size, (end+page-1)/page*page); end+zeros < limit && m[end+zeros] == 0; {
		zeros++
	}
	fmt.Printf("intact %d zeros %d\n", end, zeros)
	fmt.Printf("byte %d %#02x\n", off, m[off])
	return 0
}
