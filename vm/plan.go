package vm

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Paths inside the guest.
const (
	// GuestPlan is where the initramfs holds the plan.
	GuestPlan = "/mapchaos/plan.json"
	// GuestModules is the initramfs directory of the kernel modules.
	GuestModules = "/mapchaos/modules"
	// GuestDisk is where the guest mounts the ext4 disk (/dev/vda).
	GuestDisk = "/mnt/disk"
	// GuestTmpfs is a tmpfs the steps may work in.
	GuestTmpfs = "/mnt/tmpfs"
	// GuestDevice is the disk's block device when it is the only one;
	// the init finds the disks by their serials (DiskSerial, RootSerial).
	GuestDevice = "/dev/vda"
	// GuestPath is the PATH of the Debian root's programs.
	GuestPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	// GuestRoot is where the init mounts the Debian root (read-only) and
	// chroots each step into.
	GuestRoot = "/mnt/root"
	// DiskSerial and RootSerial are the serials of the work disk and of
	// the root disk (/sys/block/vdX/serial in the guest).
	DiskSerial = "mapchaos-work"
	RootSerial = "mapchaos-root"
	// GuestBusybox is the static busybox; the init links its applets
	// (sh, sleep, kill ...) into /bin.
	GuestBusybox = "/bin/busybox"
)

// Plan is what the guest init does: load the modules, mount the disk, run
// the steps one after the other, send back what each collected, power off.
type Plan struct {
	// Modules are file names in GuestModules, loaded in this order.
	Modules []string `json:"modules"`
	// Disk is true when a disk is attached: the guest mounts GuestDevice
	// as ext4 at GuestDisk.
	Disk bool `json:"disk"`
	// Root is true when the Debian root is attached: the guest mounts it
	// read-only at GuestRoot, binds /proc, /sys, /dev, /tmp, GuestDisk and
	// GuestTmpfs into it, puts tmpfs on its /run, /root, /var/tmp and
	// /var/lib/nfs, and runs every step chrooted there.
	Root bool `json:"root,omitempty"`
	// TmpfsMiB bounds the tmpfs at GuestTmpfs (0: the kernel's default,
	// half of the memory).
	TmpfsMiB int    `json:"tmpfs_mib,omitempty"`
	Steps    []Step `json:"steps"`
	// Parallel runs the steps at the same time (each line of their output
	// prefixed with "[name] "), for steps whose results timing does not
	// decide (step mode), so that they use every vCPU.
	Parallel bool `json:"parallel,omitempty"`
	// StopOnTimeout ends the plan when a step runs out of time (the steps
	// after it are not started): for steps that share one time bound,
	// where the next would be cut short by the machine's own timeout.
	StopOnTimeout bool `json:"stop_on_timeout,omitempty"`
}

// Step is one program the guest runs.
type Step struct {
	// Name names the step in the console protocol and on the host.
	Name string `json:"name"`
	// Argv is the program and its arguments (absolute path: the init
	// searches no PATH). With a Debian root, paths are the root's.
	Argv []string `json:"argv"`
	// Env is the program's whole environment, "KEY=value".
	Env []string `json:"env,omitempty"`
	// Dir is the working directory, created if missing.
	Dir string `json:"dir"`
	// Mkdir lists other directories to create before the step (e.g. its
	// TMPDIR): the guest has no shell.
	Mkdir []string `json:"mkdir,omitempty"`
	// Timeout bounds the step; after it the step's process group is
	// killed and the next step runs.
	Timeout Duration `json:"timeout"`
	// Collect lists files and directories whose content comes back to the
	// host (as a gzipped tar, names relative to CollectBase, or Dir, when
	// under it). Missing ones are skipped.
	Collect     []string `json:"collect,omitempty"`
	CollectBase string   `json:"collect_base,omitempty"`
}

// Duration is a time.Duration that reads and writes as "1m30s" in JSON.
type Duration time.Duration

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// ReadPlan reads a plan written by the host.
func ReadPlan(path string) (Plan, error) {
	var p Plan
	b, err := os.ReadFile(path)
	if err != nil {
		return p, fmt.Errorf("plan: %w", err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("plan %s: %w", path, err)
	}
	return p, nil
}
