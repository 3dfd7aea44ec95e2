package step_test

import (
	"fmt"
	"os"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// threadsChunk is the size of one write of the threaded updater.
const threadsChunk = 64 << 10

// threadsMain is a multi-threaded updater (`threads SRC TARGET`): two OS
// threads write the chunks of SRC into TARGET in place, even chunks and
// odd chunks, at the same time; then the target is cut to SRC's length.
func threadsMain(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "threads: want SRC TARGET")
		return 2
	}
	src, err := os.ReadFile(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fd, err := unix.Open(args[1], unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for t := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			for off := t * threadsChunk; off < len(src); off += 2 * threadsChunk {
				if _, err := unix.Pwrite(fd, src[off:min(off+threadsChunk, len(src))], int64(off)); err != nil {
					errs[t] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	if err := unix.Ftruncate(fd, int64(len(src))); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
