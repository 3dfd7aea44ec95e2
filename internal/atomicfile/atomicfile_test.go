package atomicfile_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mapchaos/mapchaos/internal/atomicfile"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.Write(p, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	st, _ := os.Stat(p)
	if err != nil || string(b) != "new" || st.Mode().Perm() != 0o644 {
		t.Fatalf("after Write: %q %v %v, want \"new\" 0644", b, st.Mode().Perm(), err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("Write left %d entries in the directory, want 1", len(ents))
	}
	if err := atomicfile.Write(filepath.Join(dir, "no", "such", "dir", "f"), []byte("x"), 0o644); err == nil {
		t.Fatal("Write into a missing directory succeeded")
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Fatalf("a failed Write elsewhere changed %s: %q", p, b)
	}
}
