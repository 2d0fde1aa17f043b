#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# build-selftests.sh [FLAVOUR]: build the KVM selftests scripts/tests.list
# names (every flavour's but the hardware-only ones, which make
# kselftest-tarball adds), statically, against the uAPI headers of the
# kernel built for FLAVOUR (default test).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

flavour=${1:-test}
kout=$KOUT_BASE-$flavour
out=$BUILD/selftests-$flavour
hdrs=$kout/usr/include
[ -d "$hdrs/linux" ] || die "no installed headers in $hdrs: build the $flavour kernel first"

targets=$(for f in test debug deb; do tests_selftests $f; done | sort -u | sed "s|^|$out/|")
mkdir -p "$out"
log "building KVM selftests ($out)"
# shellcheck disable=SC2086
make -C "$KSRC/tools/testing/selftests/kvm" -j"$(nproc)" -s \
	CC="ccache gcc" OUTPUT="$out" \
	KHDR_INCLUDES="-isystem $hdrs" EXTRA_CFLAGS=-static $targets
