package main

import (
	"github.com/mapchaos/mapchaos/harness"
	"github.com/mapchaos/mapchaos/logwrites"
	"github.com/mapchaos/mapchaos/vm"
)

const kernelCheckUsage = "--mode power-loss: also run each update on ext4 over dm-log-writes in a real kernel, replay the log to every flush and FUA entry and to points between, and check that every state the kernel left is one the ext4-ordered model allows (the model, then); each is opened by the restarted readers. Runs in an amd64 guest (its default --arch; --arch native: on this machine, as root, with dmsetup and the dm_log_writes module)"

// kernelModules are what the kernel check loads in a guest.
var kernelModules = []string{"loop", "dm_mod", "dm_log_writes"}

// resolveKernelCheck checks --kernel-check against the other flags (set:
// those given) and fills in its defaults: the ext4-ordered model, the
// amd64 guest.
func resolveKernelCheck(mode string, model, arch *string, fs string, set map[string]bool) error {
	if mode != "power-loss" {
		return usagef("--kernel-check checks the power-loss models: it needs --mode power-loss")
	}
	if set["model"] && *model != "ext4-ordered" {
		return usagef("--kernel-check checks the ext4-ordered model, not --model %s: drop --model or say ext4-ordered", *model)
	}
	*model = "ext4-ordered"
	if fs != "" && fs != "ext4" {
		return usagef("--kernel-check runs the updates on ext4 over dm-log-writes, not on --fs %s", fs)
	}
	if !set["arch"] {
		*arch = "amd64"
	}
	if *arch == "native" {
		if err := logwrites.Available(); err != nil {
			return usagef("--kernel-check --arch native: %v", err)
		}
	}
	return nil
}

// kernelEnv is the Environment of a kernel check: a guest with the
// dm-log-writes modules, its run on a loop-mounted ext4, or this machine.
func kernelEnv(guest vm.Arch, fs string, stage []string) harness.Environment {
	if guest.Name != "" {
		return harness.Guest{Arch: guest, FS: "ext4", Stage: stage, Modules: kernelModules}
	}
	return fsEnv(fs)
}
