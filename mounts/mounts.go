package mounts

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Kinds are the file systems a Set makes, in the order the docs list them.
var Kinds = []string{"ext4", "xfs", "btrfs", "tmpfs", "overlay"}

// mkfs is the command that makes an image of each loop-mounted kind: ext4
// initialises its inode tables and journal now, not in a kernel thread
// that would write behind the run's back, with 4 KiB blocks as on any disk
// of 512 MiB or more (mke2fs would give a small image 1 KiB blocks).
var mkfs = map[string][]string{
	"ext4":  {"mkfs.ext4", "-q", "-F", "-b", "4096", "-E", "lazy_itable_init=0,lazy_journal_init=0"},
	"xfs":   {"mkfs.xfs", "-q", "-f"},
	"btrfs": {"mkfs.btrfs", "-q", "-f"},
}

// MinSize is the smallest image each kind accepts.
var MinSize = map[string]int64{"ext4": 16 << 20, "xfs": 300 << 20, "btrfs": 128 << 20, "tmpfs": 1 << 20}

// Valid says whether name is one of Kinds.
func Valid(name string) error {
	for _, k := range Kinds {
		if k == name {
			return nil
		}
	}
	return fmt.Errorf("file system %q: want one of %s", name, strings.Join(Kinds, ", "))
}

// DefaultStateDir is where sets keep their state: $MAPCHAOS_MOUNTS, or
// mapchaos-mounts in the temporary directory.
func DefaultStateDir() string {
	if v := os.Getenv("MAPCHAOS_MOUNTS"); v != "" {
		return v
	}
	return filepath.Join(os.TempDir(), "mapchaos-mounts")
}

// Available says why kind cannot be mounted here (not root, no mkfs, the
// kernel lacks it), or nil.
func Available(kind string) error {
	if err := Valid(kind); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("--fs %s mounts a file system, which needs root: run as root (or without --fs)", kind)
	}
	if args, ok := mkfs[kind]; ok {
		if _, err := exec.LookPath(args[0]); err != nil {
			return fmt.Errorf("--fs %s needs %s (Debian package %s): %w", kind, args[0], debPackage[kind], err)
		}
		if _, err := exec.LookPath("losetup"); err != nil {
			return fmt.Errorf("--fs %s needs losetup (util-linux): %w", kind, err)
		}
	}
	known, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return fmt.Errorf("--fs %s: cannot tell which file systems the kernel has: %w", kind, err)
	}
	for _, line := range strings.Split(string(known), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[len(f)-1] == kind {
			return nil
		}
	}
	return fmt.Errorf("--fs %s: this kernel has no %s (not in /proc/filesystems; modprobe %s?)", kind, kind, kind)
}

var debPackage = map[string]string{"ext4": "e2fsprogs", "xfs": "xfsprogs", "btrfs": "btrfs-progs"}

// Set is one run's mounts, loop devices and images; see the package doc.
type Set struct {
	// Dir is the set's own state directory: its lock, its journal, its
	// images and overlay layers.
	Dir     string
	lock    *os.File
	journal *os.File
	mu      sync.Mutex
	layers  map[string]string // overlay mount point -> its upper layer's directory
	n       int
}

// Journal lines: what a set made, written before it is made.
const (
	opMount = "mount"
	opLoop  = "loop"
	opDM    = "dm"
)

// Open sweeps the sets of dead runs from state (see Sweep) and starts a new
// set there. swept lists what the sweep took down.
func Open(state string) (s *Set, swept []string, err error) {
	if err := os.MkdirAll(state, 0o700); err != nil {
		return nil, nil, fmt.Errorf("mount state directory %s: %w", state, err)
	}
	swept, err = Sweep(state)
	if err != nil {
		return nil, swept, err
	}
	dir, err := os.MkdirTemp(state, fmt.Sprintf("%d-", os.Getpid()))
	if err != nil {
		return nil, swept, fmt.Errorf("mount state directory: %w", err)
	}
	s = &Set{Dir: dir}
	if s.lock, err = lockFile(dir, unix.LOCK_EX); err != nil {
		os.RemoveAll(dir)
		return nil, swept, err
	}
	if s.journal, err = os.OpenFile(filepath.Join(dir, "journal"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err != nil {
		s.lock.Close()
		os.RemoveAll(dir)
		return nil, swept, fmt.Errorf("mount journal: %w", err)
	}
	return s, swept, nil
}

// lockFile opens dir's lock file and flocks it (how: LOCK_EX, or with
// LOCK_NB to try).
func lockFile(dir string, how int) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("mount state lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// note writes a line to the journal, synced, before the thing is made.
func (s *Set) note(op, path string) error {
	if _, err := fmt.Fprintf(s.journal, "%s\t%s\n", op, path); err != nil {
		return fmt.Errorf("mount journal: %w", err)
	}
	return s.journal.Sync()
}

// JournalLoop writes down, before the caller attaches it, that image (a
// file of the caller's, anywhere) gets a loop device: Close and a later
// Sweep detach every loop device backed by it. With JournalDM and
// JournalMount, a Set keeps the journal of what another package makes
// (logwrites.Journal: the kernel check's dm-log-writes device).
func (s *Set) JournalLoop(image string) error { return s.note(opLoop, realPath(image)) }

// JournalDM writes down, before the caller creates it, that a
// device-mapper device called name is made: Close and a later Sweep
// remove it (dmsetup remove) after the mounts and before the loop
// devices, and only while every device under it is a loop device on an
// image of the same journal: a device of that name that is not over the
// set's images is someone else's, and left alone.
func (s *Set) JournalDM(name string) error {
	if name == "" || strings.ContainsAny(name, "\t\n/") {
		return fmt.Errorf("mount journal: device-mapper name %q: want a name without tabs, newlines or slashes", name)
	}
	return s.note(opDM, name)
}

// JournalMount writes down, before the caller mounts there (mount(8),
// "-o loop" included), that at gets a mount: Close and a later Sweep
// unmount it while it is mounted.
func (s *Set) JournalMount(at string) error { return s.note(opMount, realPath(at)) }

// realPath is p made absolute with its symbolic links resolved (its
// directory's, when p does not exist yet): the path the kernel shows in
// mountinfo and a loop device's backing_file.
func realPath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r
	}
	if d, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		return filepath.Join(d, filepath.Base(abs))
	}
	return abs
}

// Image makes a kind (ext4, xfs, btrfs) file system of size bytes (at
// least MinSize) in a sparse image, attaches it to a loop device and
// mounts it at at, which is created when missing.
func (s *Set) Image(ctx context.Context, kind string, size int64, at string) error {
	args, ok := mkfs[kind]
	if !ok {
		return fmt.Errorf("mount image: %q is not an image file system (want ext4, xfs or btrfs)", kind)
	}
	size = max(size, MinSize[kind])
	s.mu.Lock()
	s.n++
	img := filepath.Join(s.Dir, fmt.Sprintf("%s-%d.img", kind, s.n))
	s.mu.Unlock()
	if err := makeImage(ctx, args, img, size); err != nil {
		return err
	}
	if err := s.note(opLoop, img); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, "losetup", "--find", "--show", img).CombinedOutput()
	if err != nil {
		return fmt.Errorf("losetup %s: %w: %s", img, err, strings.TrimSpace(string(out)))
	}
	return s.mount(strings.TrimSpace(string(out)), at, kind, "")
}

// makeImage creates a sparse file of size bytes at img and makes a file
// system on it with args (mkfs and its flags).
func makeImage(ctx context.Context, args []string, img string, size int64) error {
	f, err := os.OpenFile(img, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("mount image: %w", err)
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("mount image %s: %w", img, err)
	}
	cmd := exec.CommandContext(ctx, args[0], append(args[1:], img)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", args[0], img, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Tmpfs mounts a tmpfs of size bytes at at.
func (s *Set) Tmpfs(size int64, at string) error {
	return s.mount("mapchaos", at, "tmpfs", fmt.Sprintf("size=%d,mode=0755", max(size, MinSize["tmpfs"])))
}

// Overlay mounts an overlay at at: lower is its read-only lower layer (a
// container image's), and a fresh upper and work directory in upperIn
// (the set's directory when "") take every change (the container's
// writable layer). Unmount deletes them.
func (s *Set) Overlay(lower, upperIn, at string) error {
	if upperIn == "" {
		upperIn = s.Dir
	}
	s.mu.Lock()
	s.n++
	layer := filepath.Join(upperIn, fmt.Sprintf("upper-%d", s.n))
	s.mu.Unlock()
	upper, work := filepath.Join(layer, "upper"), filepath.Join(layer, "work")
	for _, d := range []string{upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("overlay layer: %w", err)
		}
	}
	if err := s.mount("overlay", at, "overlay", "lowerdir="+lower+",upperdir="+upper+",workdir="+work); err != nil {
		os.RemoveAll(layer)
		return err
	}
	s.mu.Lock()
	if s.layers == nil {
		s.layers = map[string]string{}
	}
	s.layers[at] = layer
	s.mu.Unlock()
	return nil
}

// mount mounts source at at (created when missing), journalled first.
func (s *Set) mount(source, at, fstype, data string) error {
	if err := os.MkdirAll(at, 0o755); err != nil {
		return fmt.Errorf("mount point: %w", err)
	}
	if err := s.note(opMount, at); err != nil {
		return err
	}
	if err := unix.Mount(source, at, fstype, 0, data); err != nil {
		return fmt.Errorf("mount %s (%s) at %s: %w", source, fstype, at, err)
	}
	return nil
}

// Unmount takes down the mount at at now (Close takes down the rest),
// and deletes an overlay's upper layer with it.
func (s *Set) Unmount(at string) error {
	s.mu.Lock()
	layer := s.layers[at]
	delete(s.layers, at)
	s.mu.Unlock()
	if err := unmount(at); err != nil {
		return err
	}
	if layer != "" {
		return os.RemoveAll(layer)
	}
	return nil
}

// Close takes down every mount of the set that is still mounted (newest
// first, from the journal), detaches its loop devices and removes its
// directory. It may be called more than once.
func (s *Set) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lock == nil {
		return nil
	}
	s.journal.Close()
	_, err := teardown(s.Dir)
	s.lock.Close()
	s.lock = nil
	return err
}

// Sweep takes down what the sets in state of runs that are gone (their
// lock is free) left behind, and returns what it took down. Sets of live
// runs are not touched.
func Sweep(state string) ([]string, error) {
	ents, err := os.ReadDir(state)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mount state %s: %w", state, err)
	}
	var swept []string
	var errs []error
	for _, e := range ents {
		dir := filepath.Join(state, e.Name())
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "lock")); err != nil {
			continue // being set up right now, or not ours
		}
		lock, err := lockFile(dir, unix.LOCK_EX|unix.LOCK_NB)
		if err != nil {
			continue // its run is alive
		}
		did, err := teardown(dir)
		lock.Close()
		swept = append(swept, did...)
		errs = append(errs, err)
	}
	return swept, errors.Join(errs...)
}

// teardown reads dir's journal, unmounts what it names and is mounted
// (newest first), removes its device-mapper devices (newest first),
// detaches the loop devices backed by its images, and removes dir. It
// returns what it took down.
func teardown(dir string) ([]string, error) {
	entries, err := readJournal(filepath.Join(dir, "journal"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var did []string
	var errs []error
	mounted := mountPoints()
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e[0] == opMount && mounted[e[1]] {
			if err := unmount(e[1]); err != nil {
				errs = append(errs, err)
				continue
			}
			mounted[e[1]] = false
			did = append(did, "unmounted "+e[1])
		}
	}
	dms, err := removeDMs(entries)
	did = append(did, dms...)
	errs = append(errs, err)
	loops, err := detachLoops(entries)
	did = append(did, loops...)
	errs = append(errs, err)
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, fmt.Errorf("mount state: %w", err))
	}
	return did, errors.Join(errs...)
}

// removeDMs removes the device-mapper devices the journal entries name
// (newest first) that exist and lie over the journal's images only.
func removeDMs(entries [][2]string) ([]string, error) {
	images := map[string]bool{}
	for _, e := range entries {
		if e[0] == opLoop {
			images[e[1]] = true
		}
	}
	var did []string
	var errs []error
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i][0] != opDM {
			continue
		}
		name := entries[i][1]
		if !dmOver(name, images) {
			continue // gone, or not ours
		}
		if out, err := exec.Command("dmsetup", "remove", "--retry", name).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("dmsetup remove %s: %w: %s", name, err, strings.TrimSpace(string(out))))
			continue
		}
		did = append(did, "removed device-mapper device "+name)
	}
	return did, errors.Join(errs...)
}

// dmOver says whether a device-mapper device called name exists and every
// device under it (/sys/block/dm-N/slaves) is a loop device backed by one
// of images.
func dmOver(name string, images map[string]bool) bool {
	names, _ := filepath.Glob("/sys/block/dm-*/dm/name")
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil || strings.TrimSpace(string(data)) != name {
			continue
		}
		slaves, _ := filepath.Glob(filepath.Join(filepath.Dir(filepath.Dir(n)), "slaves", "*"))
		for _, sl := range slaves {
			b, err := os.ReadFile(filepath.Join(sl, "loop", "backing_file"))
			if err != nil || !images[strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)")] {
				return false
			}
		}
		return len(slaves) > 0
	}
	return false
}

// detachLoops detaches the loop devices backed by the journal's images. A
// device that went away meanwhile (mount -o loop's, freed by its unmount)
// is no error.
func detachLoops(entries [][2]string) ([]string, error) {
	var did []string
	var errs []error
	seen := map[string]bool{}
	for _, e := range entries {
		if e[0] != opLoop || seen[e[1]] {
			continue
		}
		seen[e[1]] = true
		for _, dev := range loopsOf(e[1]) {
			if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
				if !slices.Contains(loopsOf(e[1]), dev) {
					continue
				}
				errs = append(errs, fmt.Errorf("losetup -d %s: %w: %s", dev, err, strings.TrimSpace(string(out))))
				continue
			}
			did = append(did, "detached "+dev)
		}
		awaitDetached(e[1])
	}
	return did, errors.Join(errs...)
}

// awaitDetached waits, at most detachWithin, until no loop device is
// backed by image. losetup -d of a device that is still open (a file
// system unmounted lazily, or still being released after its last file
// closed) only marks it to be cleared when the last user lets go, so the
// device can outlive the run by a moment; a run leaves none behind.
func awaitDetached(image string) {
	deadline := time.Now().Add(detachWithin)
	for len(loopsOf(image)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}

// detachWithin bounds awaitDetached.
const detachWithin = 5 * time.Second

func readJournal(path string) ([][2]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][2]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if op, p, ok := strings.Cut(sc.Text(), "\t"); ok {
			out = append(out, [2]string{op, p})
		}
	}
	return out, sc.Err()
}

// unmount unmounts at, waiting a little for files still being closed;
// still busy after that, it detaches the mount lazily.
func unmount(at string) error {
	var err error
	for i := 0; i < 20; i++ {
		if err = unix.Unmount(at, 0); err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			return nil // unmounted, or not mounted (any more)
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if lerr := unix.Unmount(at, unix.MNT_DETACH); lerr != nil {
		return fmt.Errorf("unmount %s: %w (lazily: %v)", at, err, lerr)
	}
	return nil
}

// loopsOf lists the loop devices (/dev/loopN) whose backing file is img.
func loopsOf(img string) []string {
	var out []string
	blocks, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, b := range blocks {
		data, err := os.ReadFile(b)
		if err != nil {
			continue
		}
		file := strings.TrimSuffix(strings.TrimSpace(string(data)), " (deleted)")
		if file == img {
			out = append(out, "/dev/"+filepath.Base(filepath.Dir(filepath.Dir(b))))
		}
	}
	return out
}

// mountPoints is the set of mount points of this mount namespace.
func mountPoints() map[string]bool {
	out := map[string]bool{}
	for _, m := range mountInfo() {
		out[m.point] = true
	}
	return out
}

type mountEntry struct{ point, fstype string }

// mountInfo parses /proc/self/mountinfo.
func mountInfo() []mountEntry {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []mountEntry
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		for i := 6; i < len(f)-1; i++ {
			if f[i] == "-" && len(f) > 4 {
				out = append(out, mountEntry{point: unescape(f[4]), fstype: f[i+1]})
				break
			}
		}
	}
	return out
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// FSType is the kernel's name of the file system mounted at exactly at
// ("xfs", "overlay"), or an error when nothing is mounted there.
func FSType(at string) (string, error) {
	var t string
	for _, m := range mountInfo() {
		if m.point == at {
			t = m.fstype // the last mount there is the one seen
		}
	}
	if t == "" {
		return "", fmt.Errorf("%s: not a mount point", at)
	}
	return t, nil
}

// Bind bind-mounts src at at, journalled first: at then shows src's
// files under another name (an NFS client's view of a directory, for a
// program that works at at). A missing at is made a directory.
func (s *Set) Bind(src, at string) error {
	if _, err := os.Lstat(at); err != nil {
		if err := os.MkdirAll(at, 0o755); err != nil {
			return fmt.Errorf("mount point: %w", err)
		}
	}
	if err := s.note(opMount, at); err != nil {
		return err
	}
	if err := unix.Mount(src, at, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s at %s: %w", src, at, err)
	}
	return nil
}

// Command mounts at at (created when missing) by running argv, a mount
// command that must run as a program (mount.nfs in another network
// namespace: nsenter ... mount -t nfs ...), journalled first so that
// Close and a later Sweep take it down like the set's own mounts.
func (s *Set) Command(ctx context.Context, argv []string, at string) error {
	if err := os.MkdirAll(at, 0o755); err != nil {
		return fmt.Errorf("mount point: %w", err)
	}
	if err := s.note(opMount, at); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mount at %s (%s): %w: %s", at, strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
