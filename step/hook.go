package step

import (
	"path/filepath"
	"regexp"
	"strconv"
)

// hookObserver tells Config.OnCall about every watched call after the
// stepper has numbered it.
type hookObserver struct {
	observer
	on func(*Call)
}

// hooked wraps obs so that on hears every call; on(nil) is called at once,
// before the updater starts. Without on, obs is returned as it is.
func hooked(obs observer, on func(*Call)) observer {
	if on == nil {
		return obs
	}
	on(nil)
	return &hookObserver{observer: obs, on: on}
}

func (h *hookObserver) after(c *Call) bool {
	kill := h.observer.after(c)
	h.on(c)
	return kill
}

func (h *hookObserver) note(c *Call) {
	h.observer.note(c)
	h.on(c)
}

// firstQuoted matches the first quoted file name of a call's text.
var firstQuoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// FileOf returns the path of the file or directory a call on a descriptor
// (fsync, fdatasync, syncfs, ftruncate ...) names in its Text, made
// absolute against dir, the target's directory (Text shows names relative
// to it). ok is false when the text names no file.
func (c *Call) FileOf(dir string) (path string, ok bool) {
	q := firstQuoted.FindString(c.Text)
	if q == "" {
		return "", false
	}
	name, err := strconv.Unquote(q)
	if err != nil {
		return "", false
	}
	if filepath.IsAbs(name) {
		return filepath.Clean(name), true
	}
	return filepath.Join(dir, name), true
}
