#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Unpack QEMU 10.2.2 once as a git repository: the upstream tarball, then
# the few Debian patches the blob-free tarball needs to build (tag
# "pristine": Debian's source package base). Apply
# qemu-patches/series with git am, and build x86_64-softmmu only, with KVM.
# Reconfigures only when the configure options change; ninja rebuilds only
# what a patch touched.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

# A KVM host's QEMU, x86_64 only: what Debian's qemu-system-x86 offers a
# server (its microvm build's list, plus slirp and seccomp): linux-aio and
# io_uring disk backends, NUMA binding of memory backends, vhost (kernel,
# user, vDPA), -netdev user, -sandbox, 9p, VNC. Left out: desktop UIs,
# audio, USB redirection, smartcards, network block drivers (rbd, iSCSI,
# gluster, curl: Debian ships them as modules) and the tools (Debian's
# qemu-utils has qemu-img), and TCG: this QEMU only ever runs guests on
# KVM (as RHEL's qemu-kvm does), and builds faster without the
# emulator. docs/system/guest-memfd-ram.rst (qemu-patches/0009)
# says what each of them does with no-direct-map RAM. No debug info: it
# slows the build, which every CI run does from scratch, and Debian
# strips the binary it ships anyway.
CONFIGURE_OPTS=(--python="$PYTHON" --target-list=x86_64-softmmu
	--without-default-features --enable-kvm --disable-tcg --enable-fdt=system
	--disable-debug-info
	--enable-pixman --disable-install-blobs --disable-docs
	--disable-werror --disable-tools --disable-guest-agent
	--enable-linux-aio --enable-linux-io-uring --enable-numa
	--enable-vhost-kernel --enable-vhost-net --enable-vhost-user
	--enable-vhost-vdpa --enable-slirp --enable-seccomp --enable-cap-ng
	--enable-attr --enable-virtfs --enable-vnc --enable-malloc-trim)

if ! git -C "$QSRC" rev-parse -q --verify pristine >/dev/null 2>&1; then
	tarball=$("$TOP/scripts/host/fetch.sh" qemu)
	log "unpacking pristine QEMU $QEMU_RELEASE into $QSRC"
	rm -rf "$QSRC" "$QOUT"
	mkdir -p "$QSRC"
	tar -xJ -C "$QSRC" --strip-components=1 -f "$tarball"
	tree_commit_pristine "$QSRC" "QEMU $QEMU_RELEASE (Debian $QEMU_PKG $QEMU_VER, upstream tarball)"
	for p in $QEMU_DEBIAN_PATCHES; do
		tar -xJOf "${tarball%/*}/$QEMU_DEBIAN_TARBALL" "debian/patches/$p" |
			git -C "$QSRC" apply --index ||
			die "Debian's $p does not apply"
	done
	GIT_AUTHOR_DATE=$GIT_COMMITTER_DATE git -C "$QSRC" commit -q -m "Debian $QEMU_VER build patches: $QEMU_DEBIAN_PATCHES"
	git -C "$QSRC" tag -f pristine >/dev/null
fi
tree_apply_series "$QSRC" "$TOP/qemu-patches" "$BUILD/qemu-series.stamp"

stamp=$(printf '%s\n' "${CONFIGURE_OPTS[@]}" | sha256sum | cut -d' ' -f1)
if [ ! -f "$QOUT/build.ninja" ] || [ "$(cat "$QOUT/.configure.stamp" 2>/dev/null)" != "$stamp" ]; then
	log "configuring QEMU ($QOUT)"
	rm -rf "$QOUT"
	mkdir -p "$QOUT"
	(cd "$QOUT" && CC="ccache gcc" "$QSRC/configure" "${CONFIGURE_OPTS[@]}" > configure.log 2>&1) ||
		die "QEMU configure failed; see $QOUT/configure.log"
	echo "$stamp" > "$QOUT/.configure.stamp"
fi
log "building QEMU ($QOUT)"
ninja -C "$QOUT" qemu-system-x86_64 > "$QOUT/ninja.log" 2>&1 ||
	{ tail -40 "$QOUT/ninja.log" >&2; die "QEMU build failed; see $QOUT/ninja.log"; }
