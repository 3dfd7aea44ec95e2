package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mapchaos/mapchaos/mounts"
)

// coldPages evicts the readers' cached pages of the target, as memory
// pressure evicts a service's pages: otherwise every page a reader needs
// after an update may still be in its client's cache, and a replacement
// looks safe only because nothing is read again.
//
// What evicts pages that are mapped was measured in a 6.1 guest, on an
// 8 MiB file on an NFSv4.1 client's mount, mapped and read whole (mincore
// of the mapping, and Rss of it in /proc/self/smaps): drop_caches and
// posix_fadvise(DONTNEED) evict nothing (2048 of 2048 pages stay), since
// they skip mapped pages; madvise(MADV_PAGEOUT) and process_madvise(
// MADV_PAGEOUT) evict them when one process maps the file (2048 -> 0..10)
// but skip every page a second process maps too (2048 stay), and the
// harness runs several readers; madvise(MADV_DONTNEED) then drop_caches
// works only in the reader itself. Proactive reclaim of a memory cgroup
// (memory.reclaim, Linux 5.19) evicts them, shared or not (2048 -> 0, Rss
// 8192 kB -> 0): it is the kernel's own reclaim, which unmaps a page from
// every process. So the run (this process, and every reader and updater it
// starts) is moved into a cgroup of its own, and evicting is writing to
// its memory.reclaim; the file pages mapped in the cgroup (memory.stat
// file_mapped) before and after each eviction are what String reports.
type coldPages struct {
	root, dir string // the cgroup2 mount, and the run's cgroup in it
	mu        sync.Mutex
	n         int
	before    int64 // sum of file_mapped before each eviction, bytes
	after     int64
}

// newColdPages mounts cgroup2 in set's directory, makes the run's cgroup
// with the memory controller and moves this process into it.
func newColdPages(set *mounts.Set) (*coldPages, error) {
	c := &coldPages{root: filepath.Join(set.Dir, "cgroup")}
	if err := set.Command(context.Background(), []string{"mount", "-t", "cgroup2", "none", c.root}, c.root); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(c.root, "cgroup.subtree_control"), []byte("+memory"), 0); err != nil {
		return nil, fmt.Errorf("enable the memory controller: %w", err)
	}
	c.dir = filepath.Join(c.root, fmt.Sprintf("mapchaos-%d", os.Getpid()))
	if err := os.Mkdir(c.dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(c.dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
		os.Remove(c.dir)
		return nil, fmt.Errorf("move the run into its cgroup: %w", err)
	}
	return c, nil
}

// evict reclaims every page of the run's cgroup the kernel can reclaim
// (without swap: the file pages), and records file_mapped around it.
func (c *coldPages) evict() { c.record(func() { c.pass() }) }

// evictAll is evict repeated while a pass still frees file pages, at
// most evictPasses times, counted as one eviction: one pass of
// memory.reclaim leaves some pages (recently used ones stay on the active
// list), and step mode, where no reader thread faults pages back in
// between, wants every probe to start from the same nothing, so that two
// runs meet the same states.
func (c *coldPages) evictAll() {
	c.record(func() {
		for range evictPasses {
			before := c.stat("file")
			c.pass()
			if after := c.stat("file"); after == 0 || after >= before {
				return
			}
		}
	})
}

// evictPasses bounds evictAll.
const evictPasses = 8

// pass asks memory.reclaim once for what the cgroup holds of files, not
// more: the kernel goes on reclaiming for as long as each pass finds
// something, and pages that running threads fault in again are always
// there to find. EAGAIN (less than asked could be reclaimed) is expected;
// it is why the write is a plain write(2): os.File would take EAGAIN for
// "try again when ready" and wait in the poller forever.
func (c *coldPages) pass() {
	reclaim(filepath.Join(c.dir, "memory.reclaim"), max(c.stat("file"), 4096))
}

// record runs evict and counts it, with file_mapped before and after.
func (c *coldPages) record(evict func()) {
	before := c.stat("file_mapped")
	evict()
	after := c.stat("file_mapped")
	c.mu.Lock()
	c.n++
	c.before += before
	c.after += after
	c.mu.Unlock()
}

// reclaim writes n to the memory.reclaim file path, once.
func reclaim(path string, n int64) {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	_, _ = unix.Write(fd, []byte(strconv.FormatInt(n, 10)))
	unix.Close(fd)
}

// stat is the cgroup's memory.stat entry key, in bytes.
func (c *coldPages) stat(key string) int64 {
	b, _ := os.ReadFile(filepath.Join(c.dir, "memory.stat"))
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+" "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// every evicts at seeded moments (every 10 to 60 ms) until stop is called.
func (c *coldPages) every(ctx context.Context, seed int64) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	rng := seeded(seed)
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(10+rng.IntN(51)) * time.Millisecond):
			}
			c.evict()
		}
	}()
	return func() { cancel(); <-done }
}

// close moves this process back to the root cgroup and removes the run's
// (the cgroup2 mount goes with the set).
func (c *coldPages) close() error {
	err := os.WriteFile(filepath.Join(c.root, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0)
	for i := 0; i < 50; i++ { // the last children may still be leaving
		if rerr := os.Remove(c.dir); rerr == nil || errors.Is(rerr, os.ErrNotExist) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.Join(err, os.Remove(c.dir))
}

// String says what the evictions did.
func (c *coldPages) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 {
		return "cold pages: asked for, but no eviction happened"
	}
	return fmt.Sprintf("cold pages: the run's cached pages were evicted %d times (cgroup memory.reclaim); file pages mapped by the run's processes: %.0f KiB before an eviction and %.0f KiB after, on average",
		c.n, float64(c.before)/1024/float64(c.n), float64(c.after)/1024/float64(c.n))
}
