package reports_test

import (
	"runtime"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/reports"
)

var _ = Describe("CaptureRun", func() {
	It("describes this process and the file system of the directory", func() {
		run := reports.CaptureRun(GinkgoT().TempDir())
		Expect(run.GOOS).To(Equal(runtime.GOOS))
		Expect(run.GOARCH).To(Equal(runtime.GOARCH))
		Expect(run.Emulation).To(Equal("none"))
		Expect(run.Go).To(Equal(runtime.Version()))
		Expect(run.PageSize).To(BeNumerically(">", 0))
		Expect(time.Parse(time.RFC3339, run.Started)).To(BeTemporally("~", time.Now(), time.Minute))
		Expect(run.Modules).To(HaveKey("github.com/mapchaos/mapchaos"))
		Expect(run.Modules).To(HaveKey("github.com/onsi/ginkgo/v2"))
		Expect(run.Modules).To(HaveKey("github.com/onsi/gomega"))
		Expect(run.Modules).NotTo(HaveKey("github.com/google/go-cmp"))
		if runtime.GOOS == "linux" {
			Expect(run.Kernel).NotTo(BeEmpty())
			Expect(run.FS).To(BeElementOf("ext4", "tmpfs", "xfs", "btrfs", "overlay", "nfs", "zfs", "fuse", "9p",
				"ramfs", "f2fs", "smb2"))
		}
	})

	It("says so when the directory cannot be examined", func() {
		if runtime.GOOS != "linux" {
			Skip("file system types are known on Linux only")
		}
		Expect(reports.CaptureRun("/nonexistent/dir").FS).To(Equal("unknown"))
	})
})

var _ = Describe("reading go.mod for test binaries", func() {
	It("finds requirements and their replacements", func() {
		deps := reports.ParseGoMod(`module github.com/mapchaos/mapchaos // the harness

go 1.26.8

require golang.org/x/sys v0.50.0

require (
	// a comment
	github.com/onsi/ginkgo/v2 v2.34.0 // indirect
	github.com/oschwald/maxminddb-golang v1.13.1
)

replace github.com/oschwald/maxminddb-golang v1.13.1 => ../maxminddb-golang
replace (
	golang.org/x/sys => golang.org/x/sys v0.51.0
)
`)
		got := map[string]string{}
		for _, d := range deps {
			v := d.Version
			if d.Replace != nil {
				v += " => " + d.Replace.Path + " " + d.Replace.Version
			}
			got[d.Path] = v
		}
		Expect(got).To(Equal(map[string]string{
			"golang.org/x/sys":                     "v0.50.0 => golang.org/x/sys v0.51.0",
			"github.com/onsi/ginkgo/v2":            "v2.34.0",
			"github.com/oschwald/maxminddb-golang": "v1.13.1 => ../maxminddb-golang ",
		}))
	})
})
