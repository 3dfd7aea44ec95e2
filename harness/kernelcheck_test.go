package harness_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/harness"
)

var _ = Describe("the kernel check's model", func() {
	It("is ext4-ordered on ext4 (the default), posix on xfs, and nothing on a file system it cannot log", func() {
		for fs, want := range map[string]string{"": "ext4-ordered", "ext4": "ext4-ordered", "xfs": "posix"} {
			got, err := harness.KernelModel(fs)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(want), "--fs %q", fs)
		}
		_, err := harness.KernelModel("btrfs")
		Expect(err).To(MatchError("the kernel check runs on ext4 or xfs over dm-log-writes, not on btrfs"))
	})
})
