package main

import (
	"fmt"
	"os"

	"github.com/mapchaos/mapchaos/vm"
)

// pageSizeUsage is --page-size's help, for matrix and check.
const pageSizeUsage = "with --arch arm64: the guest kernel's page size, 4k (Debian's cloud kernel) or 16k (Debian's linux-image-arm64-16k on -cpu max)"

// guestArch is the guest of --arch and --page-size (vm.Arm64, its 16
// KiB-page variant, vm.Amd64), or the zero Arch for a native run. A
// --page-size without a guest, or one the guest does not offer, is bad
// usage (exit 2).
func guestArch(arch, pageSize string, pageSizeSet bool) (vm.Arch, error) {
	size, err := vm.ParsePageSize(pageSize)
	if err != nil {
		return vm.Arch{}, usagef("--page-size: %v", err)
	}
	if arch == "native" {
		if pageSizeSet {
			return vm.Arch{}, usagef("--page-size %s needs --arch arm64: a run on this machine has its kernel's page size (%d bytes here)", pageSize, os.Getpagesize())
		}
		return vm.Arch{}, nil
	}
	a, err := vm.ArchNamed(arch)
	if err == nil {
		a, err = a.WithPageSize(size)
	}
	if err != nil {
		return vm.Arch{}, usagef("--page-size: %v", err)
	}
	return a, nil
}

// pageSizeFlag is the --page-size of a repro command: "" for 4 KiB pages.
func pageSizeFlag(a vm.Arch) string {
	if a.Name == "" || a.Pages() == 4096 {
		return ""
	}
	return fmt.Sprint(vm.PageSizeName(a.Pages()))
}
