#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# build-kernel.sh test|bench|debug [TARGET...]: configure (tinyconfig +
# kconfig/base.config + kconfig/FLAVOUR.config; test and debug also take
# the KVM selftests' config and kconfig/test.config, which debug.config
# extends), check that every requested option reached .config, then
# build bzImage with ccache and install the
# uAPI headers, or build only the kbuild TARGETs given (e.g.
# "W=1 mm/unmapped_alloc.o").
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

flavour=${1:-test}
shift || true
[ -f "$TOP/kconfig/$flavour.config" ] || die "no kconfig/$flavour.config"
kout=$KOUT_BASE-$flavour
frags="$TOP/kconfig/base.config"
# What the KVM selftests need (upstream's list plus ours, patch 0009) is
# kept next to them; the kernels that run them start from it.
case $flavour in
test|debug) frags+=" $KSRC/tools/testing/selftests/kvm/config $TOP/kconfig/test.config" ;;
esac
[ "$flavour" = test ] || frags+=" $TOP/kconfig/$flavour.config"
stamp=$kout/.fragments.stamp
KMAKE=(make -C "$KSRC" O="$kout" -j"$(nproc)" -s CC="ccache gcc" HOSTCC="ccache gcc"
       "${KBUILD_REPRO[@]}")

mkdir -p "$kout"
"$TOP/scripts/host/assemble-kernel.sh"
# shellcheck disable=SC2086
new=$(files_stamp $frags "$KSRC/Makefile")
if [ ! -f "$kout/.config" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$new" ]; then
	log "configuring the $flavour kernel"
	rm -f "$stamp"
	"${KMAKE[@]}" tinyconfig >/dev/null
	# shellcheck disable=SC2086
	(cd "$kout" && "$KSRC/scripts/kconfig/merge_config.sh" -m -O "$kout" .config $frags >/dev/null)
	"${KMAKE[@]}" olddefconfig >/dev/null
	# shellcheck disable=SC2086
	verify_config "$kout" $frags
	echo "$new" > "$stamp"
fi
if [ $# -gt 0 ]; then
	"${KMAKE[@]}" "$@"
	exit
fi
log "building the $flavour kernel ($kout)"
"${KMAKE[@]}" bzImage
"${KMAKE[@]}" headers_install >/dev/null
