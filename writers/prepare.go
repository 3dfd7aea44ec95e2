package writers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Prepared is one update of an Exec command, ready for a caller that runs
// the command itself (step mode runs it under ptrace): the command and the
// environment to run it with, a way to lay out its {new} file, and the
// check and tidy-up that follow the run. Exec.Update is built on it, so an
// update means the same in both modes.
type Prepared struct {
	// Argv is the command with {new} and {target} expanded.
	Argv []string
	// Env is its whole environment: the harness's, Exec.Env, and
	// MAPCHAOS_NEW, MAPCHAOS_TARGET and MAPCHAOS_UPDATE.
	Env []string
	// Dir is its working directory, "" for the harness's.
	Dir string
	// New is the path of the {new} file, beside the target.
	New string

	exec           Exec
	source, target string // target is absolute
	seq            int
}

// Prepare returns update seq of the command, installing source at target.
// It validates the command and touches no file: call Place to lay out
// {new} before each run, and Finish after it.
func (e Exec) Prepare(source, target string, seq int) (*Prepared, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(target)
	if err != nil {
		return nil, fmt.Errorf("update %s: %w", target, err)
	}
	p := &Prepared{Dir: e.Dir, exec: e, source: source, target: abs, seq: seq,
		New: filepath.Join(filepath.Dir(abs), newName(filepath.Base(abs), seq))}
	r := strings.NewReplacer(NewArg, p.New, TargetArg, abs)
	p.Argv = make([]string, len(e.Argv))
	for i, a := range e.Argv {
		p.Argv[i] = r.Replace(a)
	}
	p.Env = append(append(os.Environ(), e.Env...),
		"MAPCHAOS_NEW="+p.New, "MAPCHAOS_TARGET="+abs, fmt.Sprintf("MAPCHAOS_UPDATE=%d", seq))
	return p, nil
}

// Place puts a fresh copy of the version to install at p.New, replacing a
// leftover one.
func (p *Prepared) Place() error {
	if err := copyFresh(p.source, p.New); err != nil {
		return fmt.Errorf("make {new}: %w", err)
	}
	return nil
}

// Finish ends the update after the command ran: it removes the {new} files
// the command left (all but one the target resolves to) and, when the
// command exited 0 (exitOK), checks that the target holds exactly the new
// version. An exit 0 that did not install it is a failed update: Finish
// returns a *CommandError whose Status says what differs, with output (the
// command's). With exitOK false it only tidies up: the caller knows how the
// command failed.
func (p *Prepared) Finish(exitOK bool, output string) error {
	if ce := p.finish(exitOK, output); ce != nil {
		return ce
	}
	return nil
}

func (p *Prepared) finish(exitOK bool, output string) *CommandError {
	defer tidyNew(p.target)
	if !exitOK {
		return nil
	}
	if why := sameContent(p.target, p.source); why != "" {
		return &CommandError{Command: p.exec.String(), Update: p.seq, Output: output,
			Status: "exit status 0, but it did not install the new version: " + why}
	}
	return nil
}

// newName is the name of the {new} file of update seq for the target base:
// db.mmdb -> db.new-3.mmdb.
func newName(base string, seq int) string {
	ext := filepath.Ext(base)
	return fmt.Sprintf("%s.new-%d%s", strings.TrimSuffix(base, ext), seq, ext)
}

// isNew reports whether name is a {new} file of the target base.
func isNew(base, name string) bool {
	ext := filepath.Ext(base)
	rest, ok := strings.CutPrefix(name, strings.TrimSuffix(base, ext)+".new-")
	return ok && strings.HasSuffix(rest, ext) && len(rest) > len(ext)
}

// copyFresh copies src to dst, replacing a leftover dst.
func copyFresh(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(dst)
		}
	}()
	_, err = io.Copy(out, in)
	return err
}

// tidyNew removes the {new} files left in the target's directory, except
// the one the target resolves to.
func tidyNew(target string) {
	dir, base := filepath.Dir(target), filepath.Base(target)
	live, _ := filepath.EvalSymlinks(target)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if isNew(base, e.Name()) && p != live {
			os.Remove(p)
		}
	}
}

// sameContent returns "" when the file target resolves to holds exactly the
// bytes of src, and what differs otherwise.
func sameContent(target, src string) string {
	t, err := os.Open(target)
	if err != nil {
		return fmt.Sprintf("{target}: %v", errors.Unwrap(err))
	}
	defer t.Close()
	s, err := os.Open(src)
	if err != nil {
		return fmt.Sprintf("the new version: %v", err)
	}
	defer s.Close()
	ti, err := t.Stat()
	if err != nil {
		return fmt.Sprintf("{target}: %v", err)
	}
	si, err := s.Stat()
	if err != nil {
		return fmt.Sprintf("the new version: %v", err)
	}
	if !ti.Mode().IsRegular() {
		return fmt.Sprintf("{target} is a %s, not a regular file", ti.Mode().Type())
	}
	if ti.Size() != si.Size() {
		return fmt.Sprintf("{target} holds %d bytes, the new version %d", ti.Size(), si.Size())
	}
	const n = 1 << 20
	tb, sb := make([]byte, n), make([]byte, n)
	for off := int64(0); ; off += n {
		k1, err1 := io.ReadFull(t, tb)
		k2, _ := io.ReadFull(s, sb)
		if i := firstDiff(tb[:k1], sb[:k2]); i >= 0 {
			return fmt.Sprintf("{target} differs from the new version at byte %d", off+int64(i))
		}
		if err1 != nil {
			return ""
		}
	}
}

func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
