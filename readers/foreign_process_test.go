package readers_test

import (
	"encoding/json"
	"net/netip"
	"path/filepath"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/internal/proctest"
	"github.com/mapchaos/mapchaos/readers"
)

// shReader is a foreign reader written in sh: script runs with the target
// as $1. Each gets a marker argument, so the specs can look for leftovers.
func shReader(marker, script string) readers.ForeignStrategy {
	return readers.ForeignStrategy{Argv: []string{"sh", "-c", script, marker, "{target}"},
		Ready: 2 * time.Second, Answer: 2 * time.Second}
}

var ip = netip.MustParseAddr("11.0.0.1")

var _ = Describe("ForeignProcess: a foreign reader driven one request at a time", func() {
	var target string
	BeforeEach(func() { target = filepath.Join(GinkgoT().TempDir(), "db.mmdb") })

	It("passes the target, asks lookups and returns the record sent", func() {
		s := shReader("fp-answers", `echo ready; while read cmd ip; do echo "{\"ip\":\"$ip\",\"record\":{\"target\":\"$0 $1\"}}"; done`)
		db, err := s.Open(target)
		Expect(err).NotTo(HaveOccurred())
		f := db.(*readers.ForeignProcess)
		raw, err := f.LookupJSON(ip)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(raw)).To(Equal(`{"target":"fp-answers ` + target + `"}`))
		var rec json.RawMessage
		found, err := db.Lookup(ip, &rec)
		Expect(err).NotTo(HaveOccurred())
		Expect(found).To(BeTrue())
		Expect(db.Close()).To(Succeed())
		Expect(proctest.Mentioning("fp-answers")).To(BeEmpty())
	})

	It("returns an error answer as a lookup error, not a death", func() {
		db, err := shReader("fp-error", `echo ready; while read cmd ip; do echo '{"error":"InvalidDatabaseError: bad data"}'; done`).Open(target)
		Expect(err).NotTo(HaveOccurred())
		defer db.Close()
		_, err = db.(*readers.ForeignProcess).LookupJSON(ip)
		Expect(err).To(MatchError("InvalidDatabaseError: bad data"))
		var died *readers.DiedError
		Expect(err).NotTo(BeAssignableToTypeOf(died))
	})

	It("reads a death by SIGBUS from the wait status, and keeps reporting it", func() {
		db, err := shReader("fp-sigbus", `echo ready; read cmd ip; echo "reading $ip" >&2; kill -BUS $$`).Open(target)
		Expect(err).NotTo(HaveOccurred())
		f := db.(*readers.ForeignProcess)
		for range 2 {
			_, err = f.LookupJSON(ip)
			var died *readers.DiedError
			Expect(err).To(BeAssignableToTypeOf(died))
			died = err.(*readers.DiedError)
			Expect(died.Signal).To(Equal(syscall.SIGBUS))
			Expect(died.Status).To(Equal("killed by SIGBUS"))
			Expect(died.Stderr).To(ContainSubstring("reading 11.0.0.1"))
		}
		Expect(db.Close()).To(Succeed())
		Expect(proctest.Mentioning("fp-sigbus")).To(BeEmpty())
	})

	It("kills a reader that stops answering: stuck", func() {
		db, err := shReader("fp-stuck", `echo ready; read cmd ip; exec sleep 30`).Open(target)
		Expect(err).NotTo(HaveOccurred())
		_, err = db.(*readers.ForeignProcess).LookupJSON(ip)
		var died *readers.DiedError
		Expect(err).To(BeAssignableToTypeOf(died))
		Expect(err.(*readers.DiedError).Stuck).To(BeTrue())
		Expect(err).To(MatchError(ContainSubstring("did not answer within 2s")))
		Expect(proctest.Mentioning("fp-stuck")).To(BeEmpty())
	})

	It("kills a reader that answers garbage after a proper start", func() {
		db, err := shReader("fp-garbage", `echo ready; read cmd ip; echo "what?"; exec sleep 30`).Open(target)
		Expect(err).NotTo(HaveOccurred())
		_, err = db.(*readers.ForeignProcess).LookupJSON(ip)
		Expect(err).To(MatchError(ContainSubstring(`broke the line protocol (answered lookup 11.0.0.1 with "what?")`)))
		Expect(proctest.Mentioning("fp-garbage")).To(BeEmpty())
	})

	DescribeTable("refuses a reader that does not start properly, leaving nothing behind",
		func(marker, script, msg string) {
			_, err := shReader(marker, script).Open(target)
			Expect(err).To(MatchError(readers.ErrBadForeign))
			Expect(err).To(MatchError(ContainSubstring(msg)))
			Expect(proctest.Mentioning(marker)).To(BeEmpty())
		},
		Entry("never says ready", "fp-silent", `exec sleep 30`, "did not say ready within 2s"),
		Entry("says something else", "fp-hello", `echo "hello there"; exec sleep 30`, `first line "hello there", want "ready"`),
		Entry("exits at once", "fp-exits", `echo "cannot open $1" >&2; exit 1`, "exited with status 1"),
	)

	It("closes a reader by closing its input, and reaps it", func() {
		db, err := shReader("fp-close", `echo ready; while read line; do :; done; exit 0`).Open(target)
		Expect(err).NotTo(HaveOccurred())
		Expect(db.Close()).To(Succeed())
		Expect(db.Close()).To(Succeed(), "twice is harmless")
		Expect(proctest.Mentioning("fp-close")).To(BeEmpty())
	})
})
