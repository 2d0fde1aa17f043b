# SPDX-License-Identifier: GPL-2.0
#
# unmapped-gmem: build our Linux 7.2.13 and QEMU 10.2.2 from pinned Debian
# sources plus this repository, boot the kernel under QEMU TCG and test it.
# Every target installs what is missing and rebuilds only what is stale.
# Two cores: builds run one after the other, never in parallel.

.NOTPARALLEL:
SHELL := /bin/bash

OUT	:= out
KHDR	:= $(OUT)/build/kernel-test/usr/include
DEMO	:= $(OUT)/build/demo

# make check T="guest_memfd_test qemu_nested_boot": run only those tests.
T ?=

.PHONY: all deps kernel bench-kernel debug-kernel selftests qemu demo bench bench-disk check \
	check-debug kselftest-tarball series qemu-series deb deb-check run shell clean distclean

all: kernel selftests qemu demo

deps:
	@scripts/host/install-deps.sh

kernel: deps
	@scripts/host/build-kernel.sh test

bench-kernel: deps
	@scripts/host/build-kernel.sh bench

debug-kernel: deps
	@scripts/host/build-kernel.sh debug

selftests: kernel
	@scripts/host/build-selftests.sh test

qemu: deps
	@scripts/host/build-qemu.sh

demo: kernel
	@mkdir -p $(DEMO)
	@gcc -O2 -Wall -Wextra -static -isystem $(KHDR) -o $(DEMO)/gmem_caps demo/gmem_caps.c
	@gcc -O2 -Wall -Wextra -static -o $(DEMO)/guest-fill demo/guest-fill.c
	@gcc -O2 -Wall -Wextra -static -o $(DEMO)/guest-io demo/guest-io.c
	@gcc -O2 -Wall -Wextra -static -o $(DEMO)/kcore-scan demo/kcore-scan.c
	@scripts/host/build-initramfs.sh

check: all
	@scripts/host/check.sh $(T)

# The debug kernel (KASAN, kmemleak) booted with init_on_free=1, running
# the tests that drive unmapped memory hardest. Too slow for every CI run.
check-debug: debug-kernel selftests
	@scripts/host/check.sh --debug $(T)

# Populate memory through every path side by side in the bench kernel; the
# report goes to out/build/bench/results (results.md, plots).
bench: bench-kernel
	@scripts/host/build-selftests.sh bench guest_memfd_bench
	@scripts/host/bench.sh

# Nested guests measure their disks in every cache and aio mode, on
# no-direct-map RAM and on ordinary guest_memfd RAM, side by side; the
# report goes to out/build/bench/disk (disk.md).
bench-disk: bench-kernel kernel qemu demo
	@scripts/host/bench-disk.sh

# Our kernel work as a format-patch series against v7.2.13, checkpatch
# clean, every prefix built (out/build/series/patches).
series: kernel
	@scripts/host/series.sh

# Debian packages for real hosts in out/build/deb: the kernel with Debian's
# config plus ours (hours to build on 2 cores; DEB_LSMOD=FILE trims it to
# one host's modules) and our QEMU. make deb DEB=qemu (or kernel): one.
DEB ?= all
deb: deps
	@scripts/host/deb.sh $(DEB)

# Boot the kernel make deb packaged (unpacked as dpkg installs it, KVM as
# modules) and run the tests that need nothing of the test rig in it.
deb-check: selftests
	@scripts/host/check.sh --deb $(T)

# Our QEMU patches as a series against 10.2.2, QEMU-checkpatch clean,
# every prefix built (out/build/qemu-series).
qemu-series: deps
	@scripts/host/qemu-series.sh

# Our selftests and the upstream ones we run, with run_kselftest.sh, for
# hosts with SEV-SNP or TDX hardware: out/build/unmapped-gmem-kselftest.tar.gz.
kselftest-tarball: selftests
	@scripts/host/kselftest-tarball.sh

# The guest kernel's console goes to out/results/run-console.log.
run: kernel demo qemu
	@mkdir -p $(OUT)/results
	@scripts/host/vm.sh -t 900 -c $(OUT)/results/run-console.log -- $(CURDIR)/scripts/guest/demo.sh

# An interactive root shell in the test VM (the host's filesystem, read-only).
shell: kernel
	@scripts/host/vm.sh

# Keeps out/cache (downloads, ccache): nothing is downloaded again.
clean:
	rm -rf $(OUT)/build $(OUT)/results

distclean:
	rm -rf $(OUT)
