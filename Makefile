# mapchaos: race updaters of a memory-mapped file against its readers.
# The Ginkgo CLI is pinned in go.mod (`tool` directive): `go tool ginkgo`.

GO      ?= go
GINKGO  ?= $(GO) tool ginkgo
OUT     ?= mapchaos-out
BIN     := bin/mapchaos
# Every suite, parallel where specs allow it (the matrix entries are Serial).
GINKGO_FLAGS ?= -r -p --randomize-all --fail-on-pending --fail-on-empty --keep-going --timeout=60m

# The suites' JSON report (in $(OUT)); mapchaos-skips lists what it skipped.
SUITES_JSON := suites.json
# run-suites FLAGS: every suite, then the list of skipped specs, each with
# its reason; under CI (CI set) a skip the allowlist of internal/skips does
# not name fails the run.
define run-suites
	@status=0; $(GINKGO) --json-report=$(SUITES_JSON) --output-dir=$(OUT) $(GINKGO_FLAGS) $(1) || status=$$?; \
	  $(GO) run ./cmd/mapchaos-skips $(OUT)/$(SUITES_JSON) || { [ $$status -ne 0 ] || status=1; }; \
	  exit $$status
endef

.PHONY: all build deps demo demo-arm64 test test-arm64 test-arm64-16k test-arm64-all test-fs test-nfs test-powerloss-kernel unit lint bench stress clean

all: lint test

build:
	$(GO) build -o $(BIN) ./cmd/mapchaos

## demo: race the default matrix of ginkgo.yml; print it and write $(OUT)/matrix/report.*
demo: build
	$(BIN) matrix --config ginkgo.yml --out $(OUT)/matrix

## demo-arm64: the matrix of ginkgo.yml in a real arm64 kernel (qemu-system-aarch64), on ext4 and
## tmpfs at once, stepped (ARM64_MODE=race races it, one file system after the other;
## PAGE_SIZE=16k runs it in the 16 KiB-page kernel, linux-image-arm64-16k on -cpu max,
## its report in $(OUT)/arm64-16k)
ARM64_MODE ?= step
PAGE_SIZE ?= 4k
demo-arm64: build
	$(BIN) matrix --arch arm64 --mode $(ARM64_MODE) --page-size $(PAGE_SIZE) --config ginkgo.yml --out $(OUT)/arm64$(if $(filter 4k,$(PAGE_SIZE)),,-$(PAGE_SIZE))

## deps: the Debian packages the suites use (the list is in scripts/deps): installs
## the missing ones as root with apt-get, or stops and prints the command
deps:
	@scripts/deps

# The suites CI runs in the arm64 guest: the engine, the harness, the matrix,
# step mode and the unit suites (with the guest's Debian userland, the
# Python foreign-reader specs run there too). The CLI, root, tools and
# examples suites add about 25 minutes under emulation: test-arm64-all.
ARM64_PACKAGES ?= ./engine,./harness,./suites/matrix,./step,./config,./crashes,./fixtures,./matchers,./readers,./reports,./verdicts,./writers,./suites/pages

## test-arm64: the Ginkgo suites, compiled for linux/arm64, run in a real arm64 kernel
test-arm64: deps
	$(GO) run ./cmd/mapchaos-vm suites --packages $(ARM64_PACKAGES) --out $(OUT)/arm64-suites

## test-arm64-16k: the page-boundary suite (suites/pages) in the 16 KiB-page arm64 kernel, on ext4 and tmpfs
test-arm64-16k: deps
	$(GO) run ./cmd/mapchaos-vm suites --page-size 16k --packages ./suites/pages --fs ext4,tmpfs --out $(OUT)/arm64-16k-suites

## test-arm64-all: every suite in the arm64 guest, the CLI, root, tools and examples included
test-arm64-all: deps
	$(GO) run ./cmd/mapchaos-vm suites --out $(OUT)/arm64-suites

## test-fs: the fs specs (mounts, mapchaos --fs) on every local file system
## --fs knows: ext4, xfs, btrfs, tmpfs, overlay (make test runs them on xfs),
## then the nfs specs on every NFS variant (make test-nfs). Needs root.
test-fs: export MAPCHAOS_TEST_FS := ext4,xfs,btrfs,tmpfs,overlay
test-fs: export MAPCHAOS_TEST_NFS := $(TEST_NFS)
test-fs: deps
	$(call run-suites,--label-filter='fs || nfs' ./mounts ./cmd/mapchaos)

# The NFS variants make test-nfs steps: the updater on its own client
# (v4.1 and v3) and on the server, cold and warm; make test steps nfs4.
# NFSv3 is raced, not stepped: a stepped NFSv3 run did not finish (README).
TEST_NFS ?= nfs4,nfs3,nfs4-server,nfs3-server,nfs4-warm,nfs3-warm

## test-nfs: the nfs specs: an NFS server and two clients in the amd64
## guest, the updater on one, the readers on the other
test-nfs: export MAPCHAOS_TEST_NFS := $(TEST_NFS)
test-nfs: deps
	$(call run-suites,--label-filter=nfs ./cmd/mapchaos)

## test-powerloss-kernel: the kernel check of the power-loss models (make test runs
## it too): rename and rename-nofsync on ext4 over dm-log-writes in the amd64 guest,
## every replayed state of the kernel's log in the ext4-ordered model; then on xfs,
## every state in the posix model (make test-fs runs that one too)
test-powerloss-kernel: deps
	$(call run-suites,--label-filter=kernel-check ./cmd/mapchaos)

## test: the packages, lint, then every Ginkgo suite (unit specs, real races, the
## matrix), then the list of skipped specs and why
test: deps lint
	$(call run-suites,)

## unit: every suite but the full matrix
unit: deps
	$(call run-suites,--skip-package=suites/matrix)

## lint: gofmt, go vet, and go mod tidy must change nothing
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff

## bench: lookups/s per reader strategy (outside and inside a race), writer
## throughput, stepped vs plain updates, one step-mode probe at 16 MiB and the
## stepped default matrix (wall and CPU), explain on 50 MB of log, power-loss
## states and time per update per model, the wall time of the default matrix
## (raced, and in power-loss mode), then the harness's own peak memory and
## wall time at 16 MiB, 256 MiB and 1 GiB (SIZES="16MiB 256MiB" is quicker), then
## the stepped matrix in the arm64 and amd64 guests: boot, per file system, and
## the ratio to this machine (ARCHES=arm64 for one)
bench: build
	@mkdir -p $(OUT)
	$(GO) test -run '^$$' -bench . -benchtime 2s ./readers ./writers ./engine | tee $(OUT)/bench.txt
	$(GO) test -run '^$$' -bench 'Update/16MiB' -benchtime 5x ./step | tee -a $(OUT)/bench.txt
	$(GO) test -run '^$$' -bench 'Probe/16MiB' -benchtime 3x ./step | tee -a $(OUT)/bench.txt
	$(GO) test -run '^$$' -bench 'StepMatrix' -benchtime 3x ./harness | tee -a $(OUT)/bench.txt
	$(GO) test -run '^$$' -bench 'Explain50MB' -benchtime 3x ./explain | tee -a $(OUT)/bench.txt
	$(GO) test -run '^$$' -bench 'PowerLoss/16MiB' -benchtime 1x ./harness | tee -a $(OUT)/bench.txt
	@start=$$(date +%s.%N); \
	  $(BIN) matrix --config ginkgo.yml --mode power-loss --out $(OUT)/bench-power-loss >/dev/null; status=$$?; \
	  end=$$(date +%s.%N); \
	  awk -v s=$$start -v e=$$end -v x=$$status 'BEGIN{printf "default matrix, --mode power-loss, wall time: %.1f s (exit %d: 0 when every mode: power-loss expectation of ginkgo.yml holds)\n", e-s, x}' | tee -a $(OUT)/bench.txt
	@start=$$(date +%s.%N); \
	  $(BIN) matrix --config ginkgo.yml --out $(OUT)/bench-matrix >/dev/null; status=$$?; \
	  end=$$(date +%s.%N); \
	  awk -v s=$$start -v e=$$end -v x=$$status 'BEGIN{printf "default matrix wall time: %.1f s (exit %d)\n", e-s, x}' | tee -a $(OUT)/bench.txt
	scripts/bench-memory $(BIN) | tee -a $(OUT)/bench.txt
	scripts/bench-guest $(BIN) | tee -a $(OUT)/bench.txt

## stress: the interrupt specs (Label stress: random moments in race and step
## mode, SIGINT, SIGTERM, Ctrl-C to the process group, SIGKILL; and half way
## through writing a report) run 1+STRESS_REPEAT times, then the table they
## measured: trials, exit codes seen, worst time from the signal to the exit,
## processes and temporary entries left behind (README, Reliability)
STRESS_REPEAT ?= 19
stress:
	@mkdir -p $(OUT); rm -f $(OUT)/stress.log
	@status=0; MAPCHAOS_STRESS_LOG=$(abspath $(OUT))/stress.log $(GINKGO) --repeat=$(STRESS_REPEAT) --label-filter=stress ./cmd/mapchaos || status=$$?; \
	  scripts/stress-table $(OUT)/stress.log; exit $$status

clean:
	rm -rf bin $(OUT)
