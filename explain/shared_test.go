package explain_test

import (
	"context"
	"os"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/explain"
)

var _ = Describe("advice for a file on a shared NFS volume", func() {
	analyze := func(text string) explain.Explanation {
		x, err := explain.Analyze(context.Background(), text, projectKnown())
		Expect(err).NotTo(HaveOccurred())
		return x
	}
	trace := func() string {
		b, err := os.ReadFile("testdata/harness-cp-mmap.txt")
		Expect(err).NotTo(HaveOccurred())
		return string(b)
	}

	It("keeps the local-disk advice when nothing says NFS", func() {
		x := analyze(trace())
		Expect(x.Volume).To(BeEmpty())
		Expect(x.Cause).To(ContainSubstring("the mapped inode stays whole"))
	})

	It("says what NFSv4.1 keeps and what it does not when told --fs nfs4", func() {
		x := analyze(trace())
		x.OnSharedVolume("nfs4")
		Expect(x.Volume).To(Equal("nfs4"))
		Expect(x.Cause).NotTo(ContainSubstring("the mapped inode stays whole"))
		Expect(x.Cause).To(ContainSubstring("NFSv4.1"))
		Expect(x.Notes).To(ContainElement(ContainSubstring("readers on other machines die the same way")))
	})

	It("says a rename is not safe on NFSv3", func() {
		x := analyze(trace())
		x.OnSharedVolume("nfs3")
		Expect(x.Cause).To(ContainSubstring("On an NFSv3 volume a rename (or an unlink before writing anew) from another client is not safe"))
		Expect(x.Fixes[0].Cost).To(ContainSubstring("on NFSv3 this is not enough"))
	})

	It("notices NFS in the input", func() {
		x := analyze("10.0.0.5:/ on /srv/geoip type nfs4 (rw,vers=4.1)\n" + trace())
		Expect(x.Volume).To(Equal("nfs4"))
		x = analyze("mounted with vers=3: 10.0.0.5:/export on /srv/geoip type nfs (rw,vers=3)\n" + trace())
		Expect(x.Volume).To(Equal("nfs3"))
		Expect(explain.MentionsNFS("/dev/sda1 on / type ext4")).To(BeFalse())
	})

	It("leaves other file systems alone", func() {
		x := analyze(trace())
		x.OnSharedVolume("xfs")
		Expect(x.Volume).To(BeEmpty())
		Expect(x.Cause).To(ContainSubstring("the mapped inode stays whole"))
	})
})
