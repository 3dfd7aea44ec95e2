package readers_test

import (
	"bufio"
	"context"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/fixtures"
	"github.com/mapchaos/mapchaos/readers"
)

// copyOf copies the fixture at src into a fresh temp dir.
func copyOf(src string) string {
	b, err := os.ReadFile(src)
	Expect(err).NotTo(HaveOccurred())
	dst := filepath.Join(GinkgoT().TempDir(), "db.mmdb")
	Expect(os.WriteFile(dst, b, 0o644)).To(Succeed())
	return dst
}

var _ = Describe("strategies", func() {
	DescribeTable("answer every lookup right on a whole file",
		func(name string) {
			reg, err := readers.Builtin().Lookup(name)
			Expect(err).NotTo(HaveOccurred())
			for version, path := range map[string]string{"A": pair.A, "B": pair.B} {
				db, err := reg.Strategy.Open(path)
				Expect(err).NotTo(HaveOccurred())
				rng := rand.New(rand.NewPCG(1, 2))
				for range 2000 {
					var rec fixtures.Record
					ip := pair.Universe.Sample(rng)
					found, err := db.Lookup(ip, &rec)
					Expect(err).NotTo(HaveOccurred())
					Expect(pair.Universe.Verify(ip, rec, found)).To(Succeed())
					Expect(rec.Version).To(Equal(version))
				}
				Expect(db.Close()).To(Succeed())
			}
		},
		Entry(nil, "mmap"), Entry(nil, "mmap-recover"), Entry(nil, "mmap-v2"), Entry(nil, "bytes"),
	)

	DescribeTable("fail to open a file that is not a whole database, with an error naming it",
		func(name string, content []byte) {
			reg, _ := readers.Builtin().Lookup(name)
			path := filepath.Join(GinkgoT().TempDir(), "broken.mmdb")
			Expect(os.WriteFile(path, content, 0o644)).To(Succeed())
			_, err := reg.Strategy.Open(path)
			Expect(err).To(MatchError(ContainSubstring(path)))
		},
		Entry("mmap, empty", "mmap", []byte{}),
		Entry("bytes, empty", "bytes", []byte{}),
		Entry("mmap, garbage", "mmap", []byte(strings.Repeat("x", 5000))),
		Entry("geoip2-v2-city, empty", "geoip2-v2-city", []byte{}),
		Entry("geoip2-v2-enterprise, garbage", "geoip2-v2-enterprise", []byte(strings.Repeat("x", 5000))),
	)

	DescribeTable("typed readers refuse a plain fixture (its database type has no City or Enterprise lookups)",
		func(name string) {
			reg, err := readers.Builtin().Lookup(name)
			Expect(err).NotTo(HaveOccurred())
			db, err := reg.Strategy.Open(pair.A)
			if err == nil { // v1 opens any type and refuses at the lookup
				var rec fixtures.Record
				_, err = db.Lookup(pair.Universe.Sample(rand.New(rand.NewPCG(1, 2))), &rec)
				Expect(db.Close()).To(Succeed())
			}
			Expect(err).To(MatchError(ContainSubstring(fixtures.DatabaseType)))
		},
		Entry(nil, "geoip2-city"), Entry(nil, "geoip2-enterprise"), Entry(nil, "geoip2-v2-city"), Entry(nil, "geoip2-v2-enterprise"),
	)

	It("mmap-recover turns a real SIGBUS into a FaultError, then refuses lookups until reopened", func() {
		path := copyOf(pair.A)
		db, err := readers.Mmap{PanicOnFault: true}.Open(path)
		Expect(err).NotTo(HaveOccurred())
		defer db.Close()
		Expect(os.Truncate(path, 0)).To(Succeed()) // every mapped page now lies past the end
		errs := make(chan [2]error, 1)
		go func() {
			defer GinkgoRecover()
			debug.SetPanicOnFault(true)
			var rec fixtures.Record
			_, err1 := db.Lookup(netip.MustParseAddr("11.0.0.1"), &rec)
			_, err2 := db.Lookup(netip.MustParseAddr("11.0.0.2"), &rec)
			errs <- [2]error{err1, err2}
		}()
		got := <-errs
		var fe *readers.FaultError
		Expect(got[0]).To(BeAssignableToTypeOf(fe))
		fe = got[0].(*readers.FaultError)
		Expect(uint64(fe.Addr)).To(BeNumerically(">", 0x1000), "a real fault address, not a nil dereference")
		Expect(fe.Stack).To(ContainSubstring("maxminddb-golang"))
		Expect(got[1]).To(MatchError(readers.ErrNeedsReopen))
	})

	It("bytes keeps answering from its buffer after the file is truncated", func() {
		path := copyOf(pair.A)
		db, err := readers.Bytes{}.Open(path)
		Expect(err).NotTo(HaveOccurred())
		Expect(os.Truncate(path, 0)).To(Succeed())
		var rec fixtures.Record
		ip := netip.MustParseAddr("11.0.0.1")
		found, err := db.Lookup(ip, &rec)
		Expect(err).NotTo(HaveOccurred())
		Expect(pair.Universe.Verify(ip, rec, found)).To(Succeed())
	})
})

var _ = Describe("Registry", func() {
	It("lists the built-in readers sorted and names the unknown", func() {
		Expect(readers.Builtin().Names()).To(Equal([]string{"bytes", "geoip2-city", "geoip2-enterprise", "geoip2-v2-city", "geoip2-v2-enterprise", "mmap", "mmap-recover", "mmap-v2"}))
		_, err := readers.Builtin().Lookup("mmapp")
		Expect(err).To(MatchError(`unknown reader "mmapp": known readers are bytes, geoip2-city, geoip2-enterprise, geoip2-v2-city, geoip2-v2-enterprise, mmap, mmap-recover, mmap-v2`))
	})
	It("panics on a duplicate, an empty name or a nil strategy", func() {
		r := readers.NewRegistry()
		r.Register(readers.Registration{Name: "x", Strategy: readers.Bytes{}})
		Expect(func() { r.Register(readers.Registration{Name: "x", Strategy: readers.Bytes{}}) }).To(Panic())
		Expect(func() { r.Register(readers.Registration{Strategy: readers.Bytes{}}) }).To(Panic())
		Expect(func() { r.Register(readers.Registration{Name: "y"}) }).To(Panic())
	})
})

var _ = Describe("Ring", func() {
	It("gives back the latest lookups, oldest first, and the time of the last", func() {
		path := filepath.Join(GinkgoT().TempDir(), "r.ring")
		r, err := readers.CreateRing(path)
		Expect(err).NotTo(HaveOccurred())
		var ips []netip.Addr
		for i := range 40 {
			ip := netip.AddrFrom4([4]byte{11, 0, 0, byte(i)})
			ips = append(ips, ip)
			r.Note(ip, int64(1000+i))
		}
		Expect(r.Close()).To(Succeed())
		st, err := readers.ReadRing(path)
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Lookups).To(Equal(int64(40)))
		Expect(st.LastAt).To(Equal(int64(1039)))
		Expect(st.Last).To(Equal(ips[40-readers.RingSlots:]))
	})
	It("rejects a file of the wrong size", func() {
		path := filepath.Join(GinkgoT().TempDir(), "bad.ring")
		Expect(os.WriteFile(path, []byte("short"), 0o644)).To(Succeed())
		_, err := readers.ReadRing(path)
		Expect(err).To(MatchError(ContainSubstring("5 bytes")))
	})
})

// child runs RunChild in-process over pipes.
type child struct {
	in     *io.PipeWriter
	events chan readers.Event
	code   chan int
	stderr *strings.Builder
}

func startChild(args readers.ChildArgs) *child {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	c := &child{in: inW, events: make(chan readers.Event, 1000), code: make(chan int, 1), stderr: &strings.Builder{}}
	go func() {
		c.code <- readers.RunChild(context.Background(), args.Args(), readers.Builtin(), inR, outW, c.stderr)
		outW.Close()
	}()
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			e, err := readers.ParseEvent(sc.Bytes())
			Expect(err).NotTo(HaveOccurred())
			c.events <- e
		}
		close(c.events)
	}()
	return c
}

func (c *child) next(kind string) readers.Event {
	for e := range c.events {
		if e.Ev == kind {
			return e
		}
	}
	Fail("no " + kind + " event")
	return readers.Event{}
}

var _ = Describe("RunChild", func() {
	args := func(starting bool) readers.ChildArgs {
		return readers.ChildArgs{Strategy: "mmap", Target: pair.A, Universe: pair.Universe, Starting: starting,
			Seed: 3, Reload: 5 * time.Millisecond, Ring: filepath.Join(GinkgoT().TempDir(), "c.ring")}
	}

	It("as a running reader: opens, says ready, looks up and checks, and reports its counts when stopped", func() {
		c := startChild(args(false))
		c.next("ready")
		tick := c.next("tick")
		Expect(tick.Stats.Lookups).To(BeNumerically(">", 0))
		io.WriteString(c.in, "stop\n")
		done := c.next("done")
		Expect(<-c.code).To(Equal(0))
		Expect(done.Stats.Right).To(Equal(done.Stats.Lookups))
		Expect(done.Stats.Opens).To(BeNumerically(">", 1), "it reloaded")
		Expect(done.Stats.Wrong + done.Stats.Errors + done.Stats.Faults + done.Stats.OpenErrors).To(BeZero())
	})

	It("as a starting reader: waits for open, and counts a failed open as an error", func() {
		a := args(true)
		a.Target = filepath.Join(GinkgoT().TempDir(), "missing.mmdb")
		c := startChild(a)
		c.next("ready")
		io.WriteString(c.in, "open\n")
		e := c.next("error")
		Expect(e.Op).To(Equal("open"))
		Expect(e.Detail).To(ContainSubstring("no such file"))
		c.in.Close()
		done := c.next("done")
		Expect(<-c.code).To(Equal(0))
		Expect(done.Stats.OpenErrors).To(BeNumerically(">", 0))
		Expect(done.Stats.Lookups).To(BeZero())
	})

	It("says in its ticks since when it is inside an open that moves no counter", func() {
		a := args(true)
		a.Strategy, a.Reload = "bytes", 0 // one open: a reload would read the FIFO again
		a.Target = filepath.Join(GinkgoT().TempDir(), "fifo.mmdb")
		Expect(syscall.Mkfifo(a.Target, 0o644)).To(Succeed())
		c := startChild(a)
		c.next("ready")
		io.WriteString(c.in, "open\n")
		// Reading a FIFO with no writer blocks, as a slow read of a large
		// file does.
		first := c.next("tick")
		Expect(first.Opening).To(BeNumerically(">", 0))
		Expect(c.next("tick").Opening).To(Equal(first.Opening))
		db, err := os.ReadFile(pair.A)
		Expect(err).NotTo(HaveOccurred())
		w, err := os.OpenFile(a.Target, os.O_WRONLY, 0)
		Expect(err).NotTo(HaveOccurred())
		_, err = w.Write(db)
		Expect(err).NotTo(HaveOccurred())
		Expect(w.Close()).To(Succeed())
		Eventually(func() int64 { return c.next("tick").Opening }).Should(BeZero())
		c.in.Close()
		Expect(c.next("done").Stats.Opens).To(Equal(int64(1)))
		Expect(<-c.code).To(Equal(0))
	})

	DescribeTable("exits 3 with a message on bad arguments",
		func(mutate func(*readers.ChildArgs), msg string) {
			a := args(false)
			mutate(&a)
			c := startChild(a)
			Expect(<-c.code).To(Equal(3))
			Expect(c.stderr.String()).To(ContainSubstring(msg))
		},
		Entry("unknown strategy", func(a *readers.ChildArgs) { a.Strategy = "nope" }, `unknown reader "nope"`),
		Entry("unopenable target", func(a *readers.ChildArgs) { a.Target = "/nonexistent/db" }, "cannot open the target"),
	)
})
