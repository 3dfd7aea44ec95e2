package mounts_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mapchaos/mapchaos/mounts"
)

// helperEnv makes the test binary a run that mounts a tmpfs and an image
// and waits to be killed (the sweep specs' dead run): its value is the
// state directory, MOUNTS_HELPER_AT the mount point prefix.
const helperEnv = "MOUNTS_HELPER_STATE"

func TestMounts(t *testing.T) {
	if state := os.Getenv(helperEnv); state != "" {
		helper(state, os.Getenv("MOUNTS_HELPER_AT"))
		return
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "Mounts Suite")
}

// helper opens a set in state, mounts an ext4 image at at+"-ext4" and a
// tmpfs at at+"-tmpfs", says "ready" and sleeps until it is killed.
func helper(state, at string) {
	set, _, err := mounts.Open(state)
	if err == nil {
		err = set.Image(context.Background(), "ext4", 32<<20, at+"-ext4")
	}
	if err == nil {
		err = set.Tmpfs(1<<20, at+"-tmpfs")
	}
	if err == nil && os.Getenv("MOUNTS_HELPER_JOURNAL") != "" {
		err = foreign(set, at)
	}
	if err != nil {
		fmt.Println("helper:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	time.Sleep(10 * time.Minute)
}

// foreign makes what another package would with the set as its journal
// (logwrites does): an ext4 image mounted at at+"-loop" with mount -o
// loop, its image and mount point journalled first, and a device-mapper
// name journalled that is never made (dmsetup create failed, or the
// kernel has no device-mapper).
func foreign(set *mounts.Set, at string) error {
	img := at + "-loop.img"
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		return err
	}
	if err := os.Truncate(img, 32<<20); err != nil {
		return err
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", img).CombinedOutput(); err != nil {
		return fmt.Errorf("mkfs.ext4: %w: %s", err, out)
	}
	if err := os.MkdirAll(at+"-loop", 0o755); err != nil {
		return err
	}
	for _, note := range []error{set.JournalDM("mapchaos-lw-never-made"), set.JournalLoop(img), set.JournalMount(at + "-loop")} {
		if note != nil {
			return note
		}
	}
	if out, err := exec.Command("mount", "-o", "loop", img, at+"-loop").CombinedOutput(); err != nil {
		return fmt.Errorf("mount -o loop: %w: %s", err, out)
	}
	return nil
}

// requireRoot skips without root: mounting needs it.
func requireRoot() {
	GinkgoHelper()
	if os.Geteuid() != 0 {
		Skip("--fs mounts file systems, which needs root: run the fs specs as root (make test-fs)")
	}
}

// leftovers lists what is still mounted under any of dirs and which loop
// devices have a backing file under any of them.
func leftovers(dirs ...string) []string {
	var out []string
	data, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range splitLines(string(data)) {
		for _, d := range dirs {
			if containsField(line, d) {
				out = append(out, "mounted: "+line)
			}
		}
	}
	files, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, d := range dirs {
			if len(b) > len(d) && string(b[:len(d)]) == d {
				out = append(out, "loop device "+f+": "+string(b))
			}
		}
	}
	return out
}
