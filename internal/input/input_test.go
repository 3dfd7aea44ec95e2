package input_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/internal/input"
)

const what = "a test input"

var _ = Describe("ReadFile", func() {
	var dir string
	BeforeEach(func() { dir = GinkgoT().TempDir() })

	It("reads a file up to its limit, exactly", func() {
		p := filepath.Join(dir, "f")
		Expect(os.WriteFile(p, bytes.Repeat([]byte("x"), 1024), 0o644)).To(Succeed())
		b, err := input.ReadFile(context.Background(), p, 1024, what)
		Expect(err).NotTo(HaveOccurred())
		Expect(b).To(HaveLen(1024))

		_, err = input.ReadFile(context.Background(), p, 1023, what)
		Expect(err).To(MatchError(input.ErrTooLarge))
	})

	It("refuses a regular file larger than its limit from its size, unread", func() {
		p := filepath.Join(dir, "sparse")
		f, err := os.Create(p)
		Expect(err).NotTo(HaveOccurred())
		Expect(f.Truncate(64 << 30)).To(Succeed()) // 64 GiB of holes: reading them would take minutes
		Expect(f.Close()).To(Succeed())
		_, err = input.ReadFile(context.Background(), p, 1<<20, what)
		var le *input.LimitError
		Expect(errors.As(err, &le)).To(BeTrue(), "%v", err)
		Expect(err).To(MatchError(p + ": larger than 1 MiB, the most mapchaos reads for a test input"))
	})

	It("stops an endless device at its limit", func() {
		_, err := input.ReadFile(context.Background(), "/dev/zero", 1<<20, what)
		Expect(err).To(MatchError(input.ErrTooLarge))
		Expect(err).To(MatchError(ContainSubstring("/dev/zero: larger than 1 MiB")))
	})

	It("refuses a directory, and passes on a missing file's error", func() {
		_, err := input.ReadFile(context.Background(), dir, 1<<20, what)
		Expect(err).To(MatchError(dir + ": a directory, not a test input"))
		_, err = input.ReadFile(context.Background(), filepath.Join(dir, "nothing"), 1<<20, what)
		Expect(err).To(MatchError(fs.ErrNotExist))
		Expect(err).To(MatchError("open " + filepath.Join(dir, "nothing") + ": no such file or directory"))
	})

	Context("a FIFO", func() {
		var fifo string
		BeforeEach(func() {
			fifo = filepath.Join(dir, "fifo")
			Expect(syscall.Mkfifo(fifo, 0o600)).To(Succeed())
		})

		It("reads what its writer wrote", func() {
			go func() {
				defer GinkgoRecover()
				w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
				Expect(err).NotTo(HaveOccurred())
				_, _ = w.WriteString("race: {updates: 3}\n")
				w.Close()
			}()
			b, err := input.ReadFile(context.Background(), fifo, 1<<20, what)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(b)).To(Equal("race: {updates: 3}\n"))
		})

		It("stops waiting for a writer that never comes, and lets go of the FIFO", func() {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			_, err := input.ReadFile(ctx, fifo, 1<<20, what)
			Expect(err).To(MatchError(context.Canceled))
			Expect(err).To(MatchError(ContainSubstring("waiting for a writer")))
			// no reader is left on it: a writer that does not wait is refused
			Eventually(func() error {
				w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
				if err == nil {
					w.Close()
				}
				return err
			}).Should(MatchError(syscall.ENXIO))
		})

		It("stops reading from a writer that never finishes", func() {
			w, err := os.OpenFile(fifo, os.O_RDWR, 0) // a writer that stays, and never blocks the open
			Expect(err).NotTo(HaveOccurred())
			defer w.Close()
			_, _ = w.WriteString("fixture: {size: 1MiB}\n")
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			_, err = input.ReadFile(ctx, fifo, 1<<20, what)
			Expect(err).To(MatchError(context.Canceled))
			Expect(err).To(MatchError(ContainSubstring("reading a test input")))
		})
	})
})

var _ = Describe("ReadAll", func() {
	It("stops a read that blocks, on a pipe that takes a deadline and on a reader that does not", func() {
		r, w, err := os.Pipe()
		Expect(err).NotTo(HaveOccurred())
		defer r.Close()
		defer w.Close()
		pr, pw := io.Pipe()
		defer pw.Close()
		for _, src := range []io.Reader{r, pr} {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			_, err := input.ReadAll(ctx, src, 1<<20, what)
			Expect(err).To(MatchError(context.Canceled))
		}
	})

	It("names the input past its limit", func() {
		_, err := input.ReadAll(context.Background(), bytes.NewReader(make([]byte, 2048)), 1024, what)
		Expect(err).To(MatchError("the input: larger than 1 KiB, the most mapchaos reads for a test input"))
	})
})

var _ = DescribeTable("Size",
	func(n int64, want string) { Expect(input.Size(n)).To(Equal(want)) },
	Entry(nil, int64(1<<20), "1 MiB"),
	Entry(nil, int64(64<<20), "64 MiB"),
	Entry(nil, int64(4<<30), "4 GiB"),
	Entry(nil, int64(1536), "1536 bytes"),
	Entry(nil, int64(2048), "2 KiB"),
)
