package main

import (
	"github.com/mapchaos/mapchaos/harness"
	"github.com/mapchaos/mapchaos/logwrites"
	"github.com/mapchaos/mapchaos/vm"
)

const kernelCheckUsage = "--mode power-loss: also run each update on ext4 (default) or, with --fs xfs, on xfs over dm-log-writes in a real kernel, replay the log to every flush and FUA entry and to points between, and check that every state the kernel left is one the file system's model allows: ext4-ordered for ext4, posix for xfs (the model, then); each is opened by the restarted readers. Runs in an amd64 guest (its default --arch; --arch native: on this machine, as root, with dmsetup and the dm_log_writes module)"

// kernelModules are what the kernel check loads in a guest.
var kernelModules = []string{"loop", "dm_mod", "dm_log_writes"}

// resolveKernelCheck checks --kernel-check against the other flags (set:
// those given) and fills in its defaults: the file system's model
// (ext4-ordered for ext4, posix for xfs), the amd64 guest.
func resolveKernelCheck(mode string, model, arch *string, fs string, set map[string]bool) error {
	if mode != "power-loss" {
		return usagef("--kernel-check checks the power-loss models: it needs --mode power-loss")
	}
	want, err := harness.KernelModel(fs)
	if err != nil {
		return usagef("--kernel-check runs the updates on ext4 (the default) or xfs over dm-log-writes, not on --fs %s: drop --fs or say --fs xfs", fs)
	}
	if set["model"] && *model != want {
		return usagef("--kernel-check on %s checks the %s model, not --model %s: drop --model or say %s", kernelFS(fs), want, *model, want)
	}
	*model = want
	if !set["arch"] {
		*arch = "amd64"
	}
	if *arch == "native" {
		if err := logwrites.Available(kernelFS(fs)); err != nil {
			return usagef("--kernel-check --arch native: %v", err)
		}
	}
	return nil
}

// kernelFS is the file system the kernel check runs the updates on.
func kernelFS(fs string) string {
	if fs == "" {
		return "ext4"
	}
	return fs
}

// kernelEnv is the Environment of a kernel check: a guest with the
// dm-log-writes modules (and xfs's for --fs xfs), its run on a loop-mounted
// ext4, or this machine. With xfs the run directories stay where --out is
// (in the guest, its ext4 disk): they hold the logged device's images, and
// mkfs.xfs's 320 MiB device with its 64 MiB log, written through the log,
// does not fit the image --fs xfs would mount for the run directories.
func kernelEnv(guest vm.Arch, fs string, stage []string) harness.Environment {
	if guest.Name != "" {
		return harness.Guest{Arch: guest, FS: kernelFS(fs), Stage: stage, Modules: kernelModules}
	}
	if kernelFS(fs) == "xfs" {
		return harness.Local{}
	}
	return fsEnv(fs)
}
