package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses, as mapchaos's (docs/contracts.md).
const (
	exitOK      = 0
	exitFailed  = 1 // a suite failed
	exitUsage   = 2
	exitHarness = 3 // qemu, the kernel, the build or the guest failed
)

const usage = `mapchaos-vm: run the Ginkgo suites inside a real arm64 Linux kernel (qemu-system-aarch64).

Usage:
  mapchaos-vm suites [--packages ./engine,./suites/matrix,...] [--fs ext4,tmpfs] [--out DIR]
                     [--timeout 75m] [--ginkgo-flags '-ginkgo.label-filter=...'] [--page-size 4k|16k]

Each package's tests are compiled for linux/arm64 (go test -c, CGO_ENABLED=0) and run in the
guest as the init program's payload, with the prebuilt mapchaos as $MAPCHAOS_BIN and the
fixtures of this machine's cache. Exit status: 0 every suite passed; 1 a suite failed;
2 bad usage; 3 the harness failed (no qemu, no kernel, no Go toolchain, a guest that hung).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// usageError is bad usage: exit 2.
type usageError struct{ error }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "suites" {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	fs := flag.NewFlagSet("mapchaos-vm suites", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o suiteOptions
	fs.StringVar(&o.packages, "packages", defaultPackages, "comma-separated packages whose suites run in the guest")
	fs.StringVar(&o.fs, "fs", "ext4", "comma-separated file systems the suites' temporary and output directories live on: ext4, tmpfs")
	fs.StringVar(&o.out, "out", "mapchaos-out/arm64-suites", "where the junit.xml (and the matrix report) of each suite go")
	fs.DurationVar(&o.timeout, "timeout", 0, "bound on the whole guest run (default 10m plus 30m per suite run)")
	fs.StringVar(&o.pageSize, "page-size", "4k", "the guest kernel's page size: 4k (Debian's cloud kernel) or 16k (linux-image-arm64-16k, -cpu max)")
	fs.StringVar(&o.ginkgoFlags, "ginkgo-flags", "", "extra flags for every test binary, e.g. -ginkgo.label-filter=unit")
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mapchaos-vm suites: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	code, err := runSuites(ctx, o, stdout)
	if err == nil {
		return code
	}
	fmt.Fprintf(stderr, "mapchaos-vm suites: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitHarness
}
