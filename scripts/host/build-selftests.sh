#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# build-selftests.sh [FLAVOUR [PROGRAM...]]: build the KVM selftests
# scripts/tests.list names (every flavour's but the hardware-only ones,
# which make kselftest-tarball adds) and the benchmark, guest_memfd_bench,
# or only the PROGRAMs given, statically, against the uAPI headers of the
# kernel built for FLAVOUR (default test).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

flavour=${1:-test}
shift $(( $# > 0 ))
kout=$KOUT_BASE-$flavour
out=$BUILD/selftests-$flavour
hdrs=$kout/usr/include
[ -d "$hdrs/linux" ] || die "no installed headers in $hdrs: build the $flavour kernel first"

if [ $# -eq 0 ]; then
	set -- guest_memfd_bench $(for f in test debug deb; do tests_selftests $f; done | sort -u)
fi
targets=$(printf '%s\n' "$@" | sed "s|^|$out/|")
mkdir -p "$out"
log "building KVM selftests ($out)"
# shellcheck disable=SC2086
make -C "$KSRC/tools/testing/selftests/kvm" -j"$(nproc)" -s \
	CC="ccache gcc" OUTPUT="$out" \
	KHDR_INCLUDES="-isystem $hdrs" EXTRA_CFLAGS=-static $targets
