package writers_test

import (
	"os"
	"path/filepath"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/writers"
)

var _ = Describe("CopyTree", func() {
	var src, dst string
	data := randomBytes(3, 300<<10)
	mtime := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	BeforeEach(func() {
		root := GinkgoT().TempDir()
		src, dst = filepath.Join(root, "src"), filepath.Join(root, "dst")
		Expect(os.Mkdir(src, 0o755)).To(Succeed())
		writeFile(src, "db.mmdb.v0", data)
		Expect(os.Chmod(filepath.Join(src, "db.mmdb.v0"), 0o600)).To(Succeed())
		Expect(os.Chtimes(filepath.Join(src, "db.mmdb.v0"), mtime, mtime)).To(Succeed())
		Expect(os.Symlink("db.mmdb.v0", filepath.Join(src, "db.mmdb"))).To(Succeed())
		writeFile(mkdir(src, "sub"), "new.mmdb", []byte("B"))
	})

	It("copies files (bytes, mode, mtime), symlinks and directories", func() {
		Expect(writers.CopyTree(dst, src)).To(Succeed())
		Expect(names(dst)).To(ConsistOf("db.mmdb", "db.mmdb.v0", "sub"))
		expectContent(filepath.Join(dst, "db.mmdb.v0"), data)
		fi, err := os.Stat(filepath.Join(dst, "db.mmdb.v0"))
		Expect(err).NotTo(HaveOccurred())
		Expect(fi.Mode().Perm()).To(Equal(os.FileMode(0o600)))
		Expect(fi.ModTime().Equal(mtime)).To(BeTrue(), "%v", fi.ModTime())
		Expect(os.Readlink(filepath.Join(dst, "db.mmdb"))).To(Equal("db.mmdb.v0"))
		expectContent(filepath.Join(dst, "sub", "new.mmdb"), []byte("B"))
	})

	It("makes new inodes: a writer that changes the copy in place leaves the original alone", func() {
		Expect(writers.CopyTree(dst, src)).To(Succeed())
		var a, b syscall.Stat_t
		Expect(syscall.Stat(filepath.Join(src, "db.mmdb.v0"), &a)).To(Succeed())
		Expect(syscall.Stat(filepath.Join(dst, "db.mmdb.v0"), &b)).To(Succeed())
		Expect(b.Ino).NotTo(Equal(a.Ino))
		Expect(a.Nlink).To(BeEquivalentTo(1))
		f, err := os.OpenFile(filepath.Join(dst, "db.mmdb.v0"), os.O_WRONLY|os.O_TRUNC, 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(f.Close()).To(Succeed())
		expectContent(filepath.Join(src, "db.mmdb.v0"), data)
	})

	It("copies into an existing empty directory, which stays the same directory, and refuses a full one", func() {
		Expect(os.Mkdir(dst, 0o700)).To(Succeed())
		var before, after syscall.Stat_t
		Expect(syscall.Stat(dst, &before)).To(Succeed())
		Expect(writers.CopyInto(dst, src)).To(Succeed())
		Expect(syscall.Stat(dst, &after)).To(Succeed())
		Expect(after.Ino).To(Equal(before.Ino))
		Expect(names(dst)).To(ConsistOf("db.mmdb", "db.mmdb.v0", "sub"))
		expectContent(filepath.Join(dst, "db.mmdb.v0"), data)
		Expect(os.Readlink(filepath.Join(dst, "db.mmdb"))).To(Equal("db.mmdb.v0"))
		Expect(writers.CopyInto(dst, src)).To(MatchError(ContainSubstring("not empty")))
	})

	It("refuses what it cannot copy, and an existing destination", func() {
		Expect(syscall.Mkfifo(filepath.Join(src, "fifo"), 0o644)).To(Succeed())
		Expect(writers.CopyTree(dst, src)).To(MatchError(ContainSubstring("fifo")))
		Expect(writers.CopyTree(src, src)).To(MatchError(os.ErrExist))
	})
})

var _ = Describe("LinkTree", func() {
	It("links files, and makes symlinks and directories again", func() {
		root := GinkgoT().TempDir()
		src, dst := filepath.Join(root, "src"), filepath.Join(root, "dst")
		Expect(os.Mkdir(src, 0o755)).To(Succeed())
		writeFile(src, "db.mmdb.v0", []byte("A"))
		Expect(os.Symlink("db.mmdb.v0", filepath.Join(src, "db.mmdb"))).To(Succeed())
		writeFile(mkdir(src, "sub"), "new.mmdb", []byte("B"))
		Expect(writers.LinkTree(dst, src)).To(Succeed())
		var a, b syscall.Stat_t
		Expect(syscall.Stat(filepath.Join(src, "sub", "new.mmdb"), &a)).To(Succeed())
		Expect(syscall.Stat(filepath.Join(dst, "sub", "new.mmdb"), &b)).To(Succeed())
		Expect(b.Ino).To(Equal(a.Ino))
		Expect(os.Readlink(filepath.Join(dst, "db.mmdb"))).To(Equal("db.mmdb.v0"))
		fi, err := os.Lstat(filepath.Join(dst, "db.mmdb"))
		Expect(err).NotTo(HaveOccurred())
		Expect(fi.Mode().Type()).To(Equal(os.ModeSymlink))
	})
})
