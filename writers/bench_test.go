package writers_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mapchaos/mapchaos/writers"
)

// BenchmarkUpdate alternates a 16 MiB target between two versions with each
// built-in strategy.
func BenchmarkUpdate(b *testing.B) {
	const size = 16 << 20
	for _, s := range writers.Builtin().All() {
		b.Run(s.Name, func(b *testing.B) {
			dir := b.TempDir()
			srcs := [2]string{filepath.Join(dir, "a"), filepath.Join(dir, "b")}
			for i, p := range srcs {
				if err := os.WriteFile(p, randomBytes(byte(i+1), size), 0o644); err != nil {
					b.Fatal(err)
				}
			}
			db := filepath.Join(dir, "db")
			if err := os.Mkdir(db, 0o755); err != nil {
				b.Fatal(err)
			}
			target := filepath.Join(db, "db.mmdb")
			if err := writers.Install(target, srcs[0], s.Properties); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(size)
			seq := 0
			for b.Loop() {
				seq++
				u := writers.Update{Target: target, Source: srcs[seq%2], Seq: seq}
				if err := s.Writer.Update(context.Background(), u); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
