package harness

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mapchaos/mapchaos/mounts"
	"github.com/mapchaos/mapchaos/reports"
	"github.com/mapchaos/mapchaos/writers"
)

// NFSKinds are the --fs names of NFS: the updater on one NFS client, the
// readers on another (nfs4 is NFSv4.1, EFS's protocol; nfs3 is NFSv3); a
// "-server" suffix puts the updater on the server, in the exported
// directory itself; a "-warm" suffix leaves the readers' cached pages
// alone (by default they are evicted at seeded moments: cold pages).
var NFSKinds = []string{"nfs4", "nfs3", "nfs4-server", "nfs3-server", "nfs4-warm", "nfs3-warm", "nfs4-server-warm", "nfs3-server-warm"}

// NFSSpec is what an NFS --fs name asks for.
type NFSSpec struct {
	// Name is the --fs name.
	Name string
	// Vers is the mount's vers= option: "4.1" or "3".
	Vers string
	// Server: the updater writes in the exported directory on the server;
	// else through an NFS client of its own.
	Server bool
	// Warm: the readers' cached pages are never evicted.
	Warm bool
}

// ParseNFS reads an NFS --fs name (NFSKinds); ok is false for any other.
func ParseNFS(name string) (spec NFSSpec, ok bool) {
	rest, warm := strings.CutSuffix(name, "-warm")
	rest, server := strings.CutSuffix(rest, "-server")
	vers := map[string]string{"nfs4": "4.1", "nfs3": "3"}[rest]
	if vers == "" {
		return NFSSpec{}, false
	}
	return NFSSpec{Name: name, Vers: vers, Server: server, Warm: warm}, true
}

// IsNFS says whether name is one of NFSKinds.
func IsNFS(name string) bool { _, ok := ParseNFS(name); return ok }

// modulesFor are the kernel modules a guest loads for file system fs:
// guestModules', or NFS's.
func modulesFor(fs string) []string {
	if IsNFS(fs) {
		return []string{"nfsd", "nfs", "nfsv3", "nfsv4", "veth"}
	}
	return guestModules[fs]
}

// nfsTools are the programs the NFS environment runs, and their packages.
var nfsTools = map[string]string{"rpc.nfsd": "nfs-kernel-server", "rpc.mountd": "nfs-kernel-server", "exportfs": "nfs-kernel-server",
	"rpcbind": "rpcbind", "mount.nfs": "nfs-common", "ip": "iproute2", "nsenter": "util-linux", "unshare": "util-linux"}

// NFSAvailable says why an NFS server and its clients cannot run here (not
// root, the kernel has no nfsd or NFS client, a tool is missing), or nil.
func NFSAvailable() error {
	if os.Geteuid() != 0 {
		return errors.New("--fs nfs runs an NFS server and two clients, which needs root")
	}
	known, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return fmt.Errorf("cannot tell which file systems the kernel has: %w", err)
	}
	for _, fs := range []string{"nfsd", "nfs", "nfs4"} {
		if !strings.Contains(string(known), "\t"+fs+"\n") {
			return fmt.Errorf("this kernel has no %s (not in /proc/filesystems)", fs)
		}
	}
	for tool, pkg := range nfsTools {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("--fs nfs needs %s (Debian package %s): %w", tool, pkg, err)
		}
	}
	return nil
}

// NFS runs like Local, on this machine, with every target in a directory
// exported by this kernel's NFS server (nfsd) and seen through two NFS
// clients, each in a network namespace of its own joined to the server by
// a veth pair and with a hostname of its own (UTS namespace), so that the
// server sees two clients, as it sees two pods on a shared volume: the
// updater works through client W (or, with Spec.Server, in the exported
// directory itself) and the readers map the file through client R. Each
// combination's data directory is a bind mount of its directory as the
// updater sees it, and the readers are given the same name under R's
// mount. Unless Spec.Warm, the readers' cached pages of the file are
// evicted at seeded moments (race mode) or after every probe (step mode):
// see coldPages. Everything is taken down at the end, also on Ctrl-C.
type NFS struct {
	Spec NFSSpec
	// State is the mount state directory (default mounts.DefaultStateDir()).
	State string
}

// Name says where the run happens.
func (n NFS) Name() string {
	return "this machine, on NFS v" + n.Spec.Vers + " (" + n.Spec.Name + ") served by this kernel's nfsd to two clients"
}

// Execute sets up the server and the clients, runs r like Local and takes
// them down again.
func (n NFS) Execute(ctx context.Context, r *Run) (placed []Placed, err error) {
	if err := NFSAvailable(); err != nil {
		return nil, Badf("--fs %s: %v", n.Spec.Name, err)
	}
	if r.Dir != nil {
		return nil, fmt.Errorf("harness.NFS: Run.Dir must be nil")
	}
	// Expectations scoped to fs: nfs3 or nfs4 hold for every variant.
	r.FS = "nfs" + map[string]string{"4.1": "4", "3": "3"}[n.Spec.Vers]
	set, err := openSet(n.State, r, n.Spec.Name)
	if err != nil {
		return nil, err
	}
	// The export is on the file system of the output directory (the
	// guest's ext4 disk), not on the temporary directory's (a tmpfs).
	if err := os.MkdirAll(r.Out, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	export, err := os.MkdirTemp(r.Out, ".nfs-export-")
	if err != nil {
		return nil, fmt.Errorf("--fs %s: %w", n.Spec.Name, err)
	}
	srv := &nfsServer{spec: n.Spec, set: set, export: export}
	defer func() {
		err = errors.Join(err, srv.down(), set.Close())
	}()
	if err := srv.up(ctx, r.Events); err != nil {
		return nil, fmt.Errorf("--fs %s: %w", n.Spec.Name, err)
	}
	return n.run(ctx, r, srv)
}

// run runs r like Local with the targets on the server's export.
func (n NFS) run(ctx context.Context, r *Run, srv *nfsServer) ([]Placed, error) {
	l := &nfsLayer{fs: srv.spec.Name, set: srv.set, export: srv.export, writer: srv.writerRoot(), reader: srv.clients[1].at, mounted: map[string]bool{}}
	r.layer = l
	defer func() { r.layer, r.cold = nil, nil }()
	var cold *coldPages
	if !n.Spec.Warm {
		var err error
		if cold, err = newColdPages(srv.set); err != nil {
			return nil, fmt.Errorf("--fs %s: cold pages: %w", n.Spec.Name, err)
		}
		defer cold.close()
		if _, step := r.Mode.(Step); step {
			r.cold = cold.evictAll
		} else {
			stop := cold.every(ctx, r.Plan.Config.Race.Seed)
			defer stop()
		}
	}
	placed, err := Local{}.Execute(ctx, r)
	if rerr := l.releaseAll(); err == nil && rerr != nil {
		err = rerr
	}
	if err != nil {
		return nil, err
	}
	note := srv.describe(cold)
	r.Events.Note(note)
	for i := range placed {
		placed[i].Report.Run.FS = "nfs" + map[string]string{"4.1": "4", "3": ""}[n.Spec.Vers] + " (" + n.Spec.Name + ", vers=" + n.Spec.Vers + ")"
		placed[i].Report.Run.Warnings = append(placed[i].Report.Run.Warnings, note)
	}
	return placed, nil
}

// nfsClient is one NFS client: its network namespace, hostname, address
// and mount point.
type nfsClient struct{ name, netns, host, server, addr, at string }

// nfsServer is the NFS server of a run and its two clients (W, R).
type nfsServer struct {
	spec    NFSSpec
	set     *mounts.Set
	export  string
	clients []nfsClient
	daemons []*exec.Cmd // rpcbind and rpc.mountd, in the foreground
	nfsd    bool        // rpc.nfsd started threads
	exports []string    // exportfs client:path entries
	netns   []string
	seen    []string // the NFSv4 clients the server saw
	// graceErr: why the grace period could not be ended at once (endGrace).
	graceErr error
}

// writerRoot is where the updater sees the export.
func (s *nfsServer) writerRoot() string {
	if s.spec.Server {
		return s.export
	}
	return s.clients[0].at
}

// up starts the server and mounts the export on both clients.
func (s *nfsServer) up(ctx context.Context, ev Events) error {
	if err := os.MkdirAll(s.export, 0o777); err != nil {
		return err
	}
	if err := s.system(ctx); err != nil {
		return err
	}
	tag := fmt.Sprintf("mc%d", os.Getpid()%100000)
	for i, role := range []string{"w", "r"} {
		c := nfsClient{name: role, netns: tag + role, host: "mapchaos-client-" + role,
			server: fmt.Sprintf("10.213.%d.1", i+1), addr: fmt.Sprintf("10.213.%d.2", i+1), at: filepath.Join(s.set.Dir, "client-"+role)}
		if err := s.network(ctx, c, tag+"v"+role); err != nil {
			return err
		}
		s.clients = append(s.clients, c)
	}
	start := time.Now()
	for _, c := range s.clients {
		argv := []string{"nsenter", "--net=/run/netns/" + c.netns, "unshare", "--uts", "sh", "-c",
			fmt.Sprintf("echo %s > /proc/sys/kernel/hostname && exec mount -t nfs -o vers=%s,nolock %s:%s %s", c.host, s.spec.Vers, c.server, s.export, c.at)}
		if err := s.set.Command(ctx, argv, c.at); err != nil {
			return err
		}
	}
	if s.spec.Vers != "3" {
		ents, _ := os.ReadDir("/proc/fs/nfsd/clients")
		for _, e := range ents {
			if b, err := os.ReadFile(filepath.Join("/proc/fs/nfsd/clients", e.Name(), "info")); err == nil {
				for _, l := range strings.Split(string(b), "\n") {
					if v, ok := strings.CutPrefix(l, "name: "); ok {
						s.seen = append(s.seen, strings.Trim(v, `"`))
					}
				}
			}
		}
		if len(s.seen) != 2 {
			return fmt.Errorf("the NFS server sees %d clients (%s), want 2: one for the updater, one for the readers", len(s.seen), strings.Join(s.seen, ", "))
		}
	}
	if err := s.pastGrace(); err != nil {
		return err
	}
	grace := "the grace period ended at once (a new server has no client state to reclaim)"
	if s.graceErr != nil {
		grace = fmt.Sprintf("waited for the grace period (it could not be ended: %v)", s.graceErr)
	}
	ev.Note(fmt.Sprintf("--fs %s: nfsd exports %s; client W (%s, %s) at %s, client R (%s, %s) at %s; mounted in %.1fs; %s",
		s.spec.Name, s.export, s.clients[0].host, s.clients[0].addr, s.clients[0].at, s.clients[1].host, s.clients[1].addr, s.clients[1].at, time.Since(start).Seconds(), grace))
	return nil
}

// pastGrace writes a file through client W and reads it through client
// R: an NFSv4 server refuses opens for its grace period, and a reader that
// opened first (the updater on the server opens nothing through NFS)
// would wait for it instead of saying it is ready.
func (s *nfsServer) pastGrace() error {
	name := ".mapchaos-grace"
	if err := os.WriteFile(filepath.Join(s.clients[0].at, name), []byte("ok\n"), 0o644); err != nil {
		return fmt.Errorf("write through client W: %w", err)
	}
	defer os.Remove(filepath.Join(s.export, name))
	if _, err := os.ReadFile(filepath.Join(s.clients[1].at, name)); err != nil {
		return fmt.Errorf("read through client R: %w", err)
	}
	return nil
}

// system starts nfsd, rpcbind and rpc.mountd and exports the directory.
func (s *nfsServer) system(ctx context.Context) error {
	if _, err := os.Stat("/proc/fs/nfsd/versions"); err != nil {
		if err := s.set.Command(ctx, []string{"mount", "-t", "nfsd", "nfsd", "/proc/fs/nfsd"}, "/proc/fs/nfsd"); err != nil {
			return err
		}
	}
	if err := s.tune(); err != nil {
		return err
	}
	if err := s.userland(); err != nil {
		return err
	}
	if err := run(ctx, "ip", "link", "set", "lo", "up"); err != nil {
		return err
	}
	for _, d := range [][]string{{"rpcbind", "-f", "-w"}, {"rpc.mountd", "-F", "--no-udp"}} {
		cmd := exec.Command(d[0], d[1:]...)
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("%s: %w", d[0], err)
		}
		s.daemons = append(s.daemons, cmd)
		time.Sleep(300 * time.Millisecond) // rpc.mountd registers with rpcbind
	}
	entry := "*:" + s.export
	// exportfs exits 1 when /etc/exports is missing, yet exports: what
	// counts is its table afterwards.
	err := run(ctx, "exportfs", "-o", "rw,async,no_root_squash,no_subtree_check,fsid=213", entry)
	s.exports = append(s.exports, entry)
	if out, verr := exec.CommandContext(ctx, "exportfs", "-v").CombinedOutput(); verr != nil || !strings.Contains(string(out), s.export) {
		return fmt.Errorf("export %s: %v (exportfs -v: %s)", s.export, err, strings.TrimSpace(string(out)))
	}
	s.nfsd = true
	if err := run(ctx, "rpc.nfsd", "4"); err != nil {
		return err
	}
	s.graceErr = s.endGrace()
	return nil
}

// tune sets what nfsd reads only before it starts: the shortest grace
// period and lease (a fresh server refuses opens for its grace period, 90
// s by default), and a client recovery directory of the run's own, in its
// mount state directory: without a way to track clients (this, or
// nfsdcld), nfsd refuses to end the grace period early (endGrace).
func (s *nfsServer) tune() error {
	for _, f := range []string{"nfsv4gracetime", "nfsv4leasetime"} {
		_ = os.WriteFile("/proc/fs/nfsd/"+f, []byte("10"), 0)
	}
	rec := filepath.Join(s.set.Dir, "v4recovery")
	if err := os.MkdirAll(rec, 0o700); err != nil {
		return fmt.Errorf("nfsd's client recovery directory: %w", err)
	}
	_ = os.WriteFile("/proc/fs/nfsd/nfsv4recoverydir", []byte(rec+"\n"), 0)
	return nil
}

// endGrace ends the server's NFSv4 grace period at once (v4_end_grace),
// as nfsdcld does once every client has reclaimed its state: this server
// is new and has no client state to reclaim. Otherwise the first open
// waits for the grace period (10 s at least) and the client's back-off
// after it: 13 s of every NFS run. Where the kernel refuses (no such file,
// or no client tracking), pastGrace still waits.
func (s *nfsServer) endGrace() error {
	return os.WriteFile("/proc/fs/nfsd/v4_end_grace", []byte("Y\n"), 0)
}

// userland makes room for what rpcbind writes where a read-only root has
// no room (/var/run as a directory of its own), and gives it its user
// (_rpc), which a root built without maintainer scripts lacks: both by
// bind mounts of the set, taken down with it.
func (s *nfsServer) userland() error {
	if fi, err := os.Lstat("/var/run"); err == nil && fi.IsDir() && !writable("/var/run") {
		if err := s.set.Bind("/run", "/var/run"); err != nil {
			return err
		}
	}
	pw, err := os.ReadFile("/etc/passwd")
	if err != nil || strings.Contains(string(pw), "\n_rpc:") || strings.HasPrefix(string(pw), "_rpc:") {
		return nil
	}
	own := filepath.Join(s.set.Dir, "passwd")
	if err := os.WriteFile(own, append(pw, []byte("_rpc:x:107:65534::/run/rpcbind:/usr/sbin/nologin\n")...), 0o644); err != nil {
		return err
	}
	return s.set.Bind(own, "/etc/passwd")
}

func writable(dir string) bool {
	f, err := os.CreateTemp(dir, ".mapchaos-")
	if err != nil {
		return false
	}
	f.Close()
	os.Remove(f.Name())
	return true
}

// network makes client c's network namespace, joined to this one by the
// veth pair named pair.
func (s *nfsServer) network(ctx context.Context, c nfsClient, pair string) error {
	if err := run(ctx, "ip", "netns", "add", c.netns); err != nil {
		return err
	}
	s.netns = append(s.netns, c.netns)
	steps := [][]string{
		{"ip", "link", "add", pair, "type", "veth", "peer", "name", pair + "c", "netns", c.netns},
		{"ip", "addr", "add", c.server + "/24", "dev", pair}, {"ip", "link", "set", pair, "up"},
		{"ip", "-n", c.netns, "addr", "add", c.addr + "/24", "dev", pair + "c"},
		{"ip", "-n", c.netns, "link", "set", pair + "c", "up"}, {"ip", "-n", c.netns, "link", "set", "lo", "up"},
	}
	for _, st := range steps {
		if err := run(ctx, st...); err != nil {
			return err
		}
	}
	return nil
}

// down takes down what up started, in reverse: the clients' mounts go
// with the set (Set.Close, after this).
func (s *nfsServer) down() error {
	var errs []error
	for i := len(s.clients) - 1; i >= 0; i-- {
		errs = append(errs, s.set.Unmount(s.clients[i].at))
	}
	bg := context.Background()
	if s.nfsd {
		errs = append(errs, run(bg, "rpc.nfsd", "0"))
	}
	for _, e := range s.exports {
		errs = append(errs, run(bg, "exportfs", "-u", e))
	}
	for _, d := range s.daemons {
		_ = d.Process.Kill()
		_ = d.Wait()
	}
	for _, ns := range s.netns {
		errs = append(errs, run(bg, "ip", "netns", "del", ns))
	}
	errs = append(errs, os.RemoveAll(s.export))
	return errors.Join(errs...)
}

// describe says how the run was set up, for the report.
func (s *nfsServer) describe(cold *coldPages) string {
	who := fmt.Sprintf("through NFS client W (hostname %s, %s, its own network namespace)", s.clients[0].host, s.clients[0].addr)
	if s.spec.Server {
		who = "on the NFS server, in the exported directory itself"
	}
	seen := "NFSv3 keeps no client state"
	if len(s.seen) > 0 {
		seen = "the server saw the clients " + strings.Join(s.seen, " and ")
	}
	pages := "warm pages: the readers' cached pages were never evicted"
	if cold != nil {
		pages = cold.String()
	}
	return fmt.Sprintf("--fs %s: NFS v%s served by this kernel's nfsd from a directory on %s; the updater worked %s, the readers mapped the file through NFS client R (hostname %s, %s); %s; %s",
		s.spec.Name, s.spec.Vers, reports.CaptureRun(s.export).FS, who, s.clients[1].host, s.clients[1].addr, seen, pages)
}

// run runs a command, its output in the error.
func run(ctx context.Context, argv ...string) error {
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// nfsLayer lays out each combination's target in a directory of its own on
// the export: the data directory is a bind mount of it as the updater sees
// it, and the readers open the same name under client R's mount.
type nfsLayer struct {
	fs             string // the --fs name
	set            *mounts.Set
	export         string // the server's directory
	writer, reader string // the export as the updater and the readers see it
	mu             sync.Mutex
	mounted        map[string]bool
}

// name is the directory on the export of a data directory: its run
// directory's name, which is unique in a run.
func (l *nfsLayer) name(dataDir string) string {
	abs, _ := filepath.Abs(dataDir)
	return filepath.Base(filepath.Dir(abs))
}

func (l *nfsLayer) install(target, src string, props writers.Properties) error {
	dataDir, _ := filepath.Abs(filepath.Dir(target))
	// Cleared and made through the updater's own view, so that its
	// client's cache of the directory is not left behind the server.
	exp := filepath.Join(l.writer, l.name(dataDir))
	if err := os.RemoveAll(exp); err != nil {
		return err
	}
	if err := os.MkdirAll(exp, 0o777); err != nil {
		return err
	}
	if err := l.bind(dataDir); err != nil {
		return err
	}
	return writers.Install(target, src, props)
}

// bind mounts dataDir's directory on the export, as the updater sees it,
// at dataDir.
func (l *nfsLayer) bind(dataDir string) error {
	if err := l.set.Bind(filepath.Join(l.writer, l.name(dataDir)), dataDir); err != nil {
		return err
	}
	l.mu.Lock()
	l.mounted[dataDir] = true
	l.mu.Unlock()
	return nil
}

// dropNames drops the kernel's unused dentries and inodes (drop_caches
// 2: the run's own kernel, in the guest), the clients' cached names among
// them.
func (l *nfsLayer) dropNames() error {
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("2"), 0); err != nil {
		return fmt.Errorf("--fs %s: dropping the clients' cached names: %w", l.fs, err)
	}
	return nil
}

func (l *nfsLayer) view(target string) string {
	abs, _ := filepath.Abs(target)
	return filepath.Join(l.reader, l.name(filepath.Dir(abs)), filepath.Base(abs))
}

// settle waits until both clients see target, just laid out anew through
// client W or on the server. Step mode lays out the same directory again
// before each update; a client may still hold that directory's old
// dentries, a target missing there among them (symlink-recreate's gap),
// and trust them for the attribute cache's time (30 s or more on NFSv3).
// So while a view does not show the target, the unused dentries are
// dropped (drop_caches 2: the run's own kernel, in the guest) and it
// looks again, for at most settleWithin.
func (l *nfsLayer) settle(ctx context.Context, target string) error {
	deadline := time.Now().Add(settleWithin)
	for _, p := range []string{target, l.view(target)} {
		for {
			_, err := os.Stat(p)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("--fs %s: %s does not show the target laid out for this update after %s: %w", l.fs, p, settleWithin, err)
			}
			if err := l.dropNames(); err != nil {
				return err
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// serverDir is the directory on the export that dataDir shows.
func (l *nfsLayer) serverDir(dataDir string) string {
	return filepath.Join(l.export, l.name(dataDir))
}

// restore lays out target's directory on the server as the copy tmpl
// holds, without a byte through client W: the server's directory is
// emptied and filled again (the same directory, so that the clients'
// handles of it stay valid), bound at the data directory again, and the
// clients' cached names dropped until both show the target.
func (l *nfsLayer) restore(ctx context.Context, tmpl, target string) error {
	dataDir, _ := filepath.Abs(filepath.Dir(target))
	srv := l.serverDir(dataDir)
	ents, err := os.ReadDir(srv)
	if err != nil {
		return fmt.Errorf("--fs %s: restoring the update's start: %w", l.fs, err)
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(srv, e.Name())); err != nil {
			return fmt.Errorf("--fs %s: restoring the update's start: %w", l.fs, err)
		}
	}
	if err := writers.CopyInto(srv, tmpl); err != nil {
		return fmt.Errorf("--fs %s: restoring the update's start: %w", l.fs, err)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return err
	}
	if err := l.bind(dataDir); err != nil {
		return err
	}
	if err := l.dropNames(); err != nil {
		return err
	}
	return l.settle(ctx, target)
}

// settleWithin bounds nfsLayer.settle.
const settleWithin = 10 * time.Second

func (l *nfsLayer) release(dataDir string) error {
	abs, _ := filepath.Abs(dataDir)
	l.mu.Lock()
	ok := l.mounted[abs]
	delete(l.mounted, abs)
	l.mu.Unlock()
	if !ok {
		return nil
	}
	return l.set.Unmount(abs)
}

func (l *nfsLayer) releaseAll() error {
	l.mu.Lock()
	var dirs []string
	for d := range l.mounted {
		dirs = append(dirs, d)
	}
	l.mu.Unlock()
	var errs []error
	for _, d := range dirs {
		errs = append(errs, l.release(d))
	}
	return errors.Join(errs...)
}

// seeded draws the moments of eviction in race mode.
func seeded(seed int64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x636f6c64)) // "cold"
}
