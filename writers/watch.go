package writers

import (
	"bytes"
	"encoding/binary"
	"errors"

	"golang.org/x/sys/unix"
)

// watchMask is what the watch of the target's directory reports: every
// change of a name or of a file's bytes, not reads.
const watchMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MODIFY | unix.IN_ATTRIB |
	unix.IN_CLOSE_WRITE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO

// watch reports the changes inotify sees in one directory as steps.
type watch struct {
	fd, wake int // the inotify descriptor, an eventfd that ends the loop
	alias    map[string]string
	step     func(string)
	done     chan struct{}
	last     string            // the last step reported, not repeated
	moved    map[uint32]string // IN_MOVED_FROM names by cookie
}

// startWatch watches dir and calls step for each change, naming the files
// in alias by their alias. It returns nil (a watch that does nothing) if
// inotify is not available.
func startWatch(dir string, alias map[string]string, step func(string)) *watch {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil
	}
	if _, err := unix.InotifyAddWatch(fd, dir, watchMask); err != nil {
		unix.Close(fd)
		return nil
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(fd)
		return nil
	}
	w := &watch{fd: fd, wake: wake, alias: alias, step: step, done: make(chan struct{}), moved: map[uint32]string{}}
	go w.loop()
	return w
}

// stop reports what is still queued (everything the command did, once it
// has exited) and ends the watch. No step is reported after stop returns.
func (w *watch) stop() {
	if w == nil {
		return
	}
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	_, _ = unix.Write(w.wake, one)
	<-w.done
	unix.Close(w.fd)
	unix.Close(w.wake)
}

func (w *watch) loop() {
	defer close(w.done)
	buf := make([]byte, 64<<10)
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}, {Fd: int32(w.wake), Events: unix.POLLIN}}
	for {
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds, -1); err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		stopping := fds[1].Revents != 0
		for {
			n, err := unix.Read(w.fd, buf)
			if err != nil || n <= 0 {
				break
			}
			w.parse(buf[:n])
		}
		if stopping {
			for _, name := range w.moved {
				w.report("seen: " + w.name(name) + " moved out of the directory")
			}
			return
		}
	}
}

// parse reports the events in b (struct inotify_event, in native order).
func (w *watch) parse(b []byte) {
	const head = unix.SizeofInotifyEvent
	for len(b) >= head {
		mask := binary.NativeEndian.Uint32(b[4:8])
		cookie := binary.NativeEndian.Uint32(b[8:12])
		n := int(binary.NativeEndian.Uint32(b[12:16]))
		if len(b) < head+n {
			return
		}
		name := string(bytes.TrimRight(b[head:head+n], "\x00"))
		b = b[head+n:]
		if name == "" {
			continue // the directory itself
		}
		switch {
		case mask&unix.IN_MOVED_FROM != 0:
			w.moved[cookie] = name
			continue
		case mask&unix.IN_MOVED_TO != 0:
			if from, ok := w.moved[cookie]; ok {
				delete(w.moved, cookie)
				w.report("seen: " + w.name(from) + " renamed to " + w.name(name))
			} else {
				w.report("seen: " + w.name(name) + " moved in")
			}
			continue
		}
		for _, what := range []struct {
			bit  uint32
			text string
		}{
			{unix.IN_CREATE, "created"},
			{unix.IN_MODIFY, "written or truncated"},
			{unix.IN_ATTRIB, "attributes changed"},
			{unix.IN_CLOSE_WRITE, "closed after writing"},
			{unix.IN_DELETE, "removed"},
		} {
			if mask&what.bit != 0 {
				w.report("seen: " + w.name(name) + " " + what.text)
			}
		}
	}
}

func (w *watch) name(n string) string {
	if a, ok := w.alias[n]; ok {
		return a
	}
	return n
}

// report calls step with s unless s was the last step reported: a file
// written 256 KiB at a time is one step, not hundreds.
func (w *watch) report(s string) {
	if s == w.last {
		return
	}
	w.last = s
	w.step(s)
}
