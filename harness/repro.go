package harness

import (
	"fmt"
	"strings"
	"time"

	"github.com/mapchaos/mapchaos/internal/shell"
)

// Repro is how a run was asked for, as the flags of the command that runs
// one of its combinations again. For renders that command: `mapchaos
// matrix ...` for a built-in writer, `mapchaos check --writer-cmd ...` for
// the user's own updater (WriterCmd set). Fields at their zero value are
// left out.
type Repro struct {
	// Program is the command's first words (default "mapchaos").
	Program string
	// WriterCmd is the user's updater (check's --writer-cmd), as written.
	WriterCmd string
	// ReaderCmd is a foreign reader (--reader-cmd), as written.
	ReaderCmd string
	// Config is the ginkgo.yml a matrix run used.
	Config string
	// Old and New are the user's own pair.
	Old, New string
	// Mode is "race" (left out), "step" or "power-loss"; Model is
	// power-loss mode's --model ("posix" is left out).
	Mode, Model string
	// Arch is "native" (left out), or the guest's: "arm64", "amd64".
	Arch string
	// PageSize is the guest kernel's --page-size ("16k"; "" and "4k" are
	// left out).
	PageSize string
	Seed     int64
	// Updates is the number of updates when the run set it.
	Updates int
	// TargetKind is check's --target-kind ("file" is left out).
	TargetKind string
	// Size and Shape are check's fixture flags, when set.
	Size, Shape string
	// Timeout is check's --writer-timeout when it is not the default.
	Timeout time.Duration
	// FS is --fs (a file system mounted for the run), when set.
	FS string
	// Stage is check's --stage paths (with --arch).
	Stage []string
}

// For renders the command that runs writer x reader again; reader is a
// built-in reader's name, or "" for the foreign reader ReaderCmd.
func (r Repro) For(writer, reader string) string {
	if r.WriterCmd != "" {
		return r.check(reader)
	}
	return r.matrix(writer, reader)
}

func (r Repro) program() []string {
	if r.Program == "" {
		return []string{"mapchaos"}
	}
	return strings.Fields(r.Program)
}

func (r Repro) matrix(writer, reader string) string {
	q := shell.Quote
	parts := append(r.program(), "matrix")
	if r.Mode != "" && r.Mode != "race" {
		parts = append(parts, "--mode", r.Mode)
	}
	if r.Model != "" && r.Model != "posix" {
		parts = append(parts, "--model", r.Model)
	}
	if r.Config != "" {
		parts = append(parts, "--config", q(r.Config))
	}
	if r.Old != "" {
		parts = append(parts, "--old", q(r.Old), "--new", q(r.New))
	}
	parts = append(parts, "--writers", writer)
	parts = append(parts, r.readers(reader)...)
	parts = append(parts, "--seed", fmt.Sprint(r.Seed))
	if r.Updates > 0 {
		parts = append(parts, "--updates", fmt.Sprint(r.Updates))
	}
	return strings.Join(append(parts, r.arch()...), " ")
}

func (r Repro) check(reader string) string {
	q := shell.Quote
	parts := append(r.program(), "check", "--writer-cmd", q(r.WriterCmd))
	parts = append(parts, r.readers(reader)...)
	parts = append(parts, "--updates", fmt.Sprint(r.Updates), "--seed", fmt.Sprint(r.Seed))
	if r.TargetKind != "" && r.TargetKind != "file" {
		parts = append(parts, "--target-kind", r.TargetKind)
	}
	if r.Size != "" {
		parts = append(parts, "--size", r.Size, "--shape", r.Shape)
	}
	if r.Timeout != 0 {
		parts = append(parts, "--writer-timeout", r.Timeout.String())
	}
	if r.Old != "" {
		parts = append(parts, "--old", q(r.Old), "--new", q(r.New))
	}
	if r.Mode != "" && r.Mode != "race" {
		parts = append(parts, "--mode", r.Mode)
	}
	if r.Model != "" && r.Model != "posix" {
		parts = append(parts, "--model", r.Model)
	}
	for _, p := range r.Stage {
		parts = append(parts, "--stage", q(p))
	}
	return strings.Join(append(parts, r.arch()...), " ")
}

func (r Repro) readers(reader string) []string {
	if reader == "" {
		return []string{"--readers", "''", "--reader-cmd", shell.Quote(r.ReaderCmd)}
	}
	return []string{"--readers", reader}
}

func (r Repro) arch() []string {
	var out []string
	if r.FS != "" {
		out = append(out, "--fs", r.FS)
	}
	if r.Arch == "" || r.Arch == "native" {
		return out
	}
	out = append(out, "--arch", r.Arch)
	if r.PageSize != "" && r.PageSize != "4k" {
		out = append(out, "--page-size", r.PageSize)
	}
	return out
}
