#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# deb.sh kernel|qemu|all: `make deb`. Debian packages for real hosts, in
# out/build/deb:
#  - kernel: our 7.2.13 with Debian's amd64 config plus kconfig/host.config,
#    built with the kernel's bindeb-pkg (linux-image-*, linux-headers-*),
#    version 7.2.13-1+unmappedgmem1, release 7.2.13-unmapped-gmem.
#    DEB_LSMOD=FILE (an lsmod listing of the target host) trims the config
#    to the modules that host uses (localmodconfig): far quicker to build.
#    kconfig/kvm-host.lsmod is such a list for a generic x86 KVM host.
#  - qemu: our qemu-system-x86_64 as qemu-system-x86-unmapped-gmem, run as
#    /usr/bin/qemu-system-x86_64-unmapped-gmem beside Debian's QEMU, whose
#    firmware packages it uses.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

what=${1:-all}
debs=$BUILD/deb
kout=$KOUT_BASE-host
version=$LINUX_VER+unmappedgmem1
mkdir -p "$debs"

deb_kernel()
{
	local cfg

	# bindeb-pkg's build dependencies, beyond the test kernel's.
	install_missing debhelper libdw-dev
	cfg=$("$TOP/scripts/host/fetch.sh" linux-config)
	"$TOP/scripts/host/assemble-kernel.sh"
	mkdir -p "$kout"
	log "configuring the host kernel: Debian's amd64 config plus kconfig/host.config"
	dpkg-deb --fsys-tarfile "$cfg" |
		tar -xO "./usr/src/$LINUX_CONFIG_PKG/config.amd64_none_amd64.xz" | xz -d > "$kout/.config"
	if [ -n "${DEB_LSMOD:-}" ]; then
		[ -f "$DEB_LSMOD" ] || die "DEB_LSMOD=$DEB_LSMOD: no such file"
		# Its questions about new options take the defaults.
		make -C "$KSRC" O="$kout" -s LSMOD="$(realpath "$DEB_LSMOD")" localmodconfig \
			</dev/null >"$kout/localmodconfig.log"
	fi
	(cd "$kout" && "$KSRC/scripts/kconfig/merge_config.sh" -m -O "$kout" .config \
		"$TOP/kconfig/host.config" >/dev/null)
	make -C "$KSRC" O="$kout" -s olddefconfig
	verify_config "$kout" "$TOP/kconfig/host.config"
	log "building the host kernel packages (a full distribution config: hours on 2 cores)"
	make -C "$KSRC" O="$kout" -j"$(nproc)" CC="ccache gcc" HOSTCC="ccache gcc" \
		LOCALVERSION=-unmapped-gmem KDEB_PKGVERSION="$version" \
		DEBFULLNAME=unmapped-gmem DEBEMAIL=dev@unmapped-gmem.invalid \
		"${KBUILD_REPRO[@]}" bindeb-pkg
	# bindeb-pkg leaves its packages next to the build directory.
	mv "$(dirname "$kout")"/linux-*_"$version"_amd64.* "$debs/"
}

deb_qemu()
{
	local root=$BUILD/deb-qemu pkg=qemu-system-x86-unmapped-gmem deps
	local bin=usr/lib/unmapped-gmem/qemu-system-x86_64

	"$TOP/scripts/host/build-qemu.sh"
	rm -rf "$root"
	install -D -m 0755 "$QOUT/qemu-system-x86_64" "$root/$bin"
	strip "$root/$bin"
	# Our build looks for firmware under its own prefix; the wrapper
	# points it at Debian's (qemu-system-data, seabios).
	mkdir -p "$root/usr/bin"
	cat > "$root/usr/bin/qemu-system-x86_64-unmapped-gmem" <<EOT
#!/bin/sh
exec /$bin -L /usr/share/qemu -L /usr/share/seabios "\$@"
EOT
	chmod 0755 "$root/usr/bin/qemu-system-x86_64-unmapped-gmem"
	# Shared libraries, as the Debian packages that ship them (dpkg knows
	# a merged-/usr library by either of its paths).
	deps=$(ldd "$root/$bin" |
	       awk '/=> \// { print $3 }' | while read -r lib; do
			dpkg -S "$lib" 2>/dev/null || dpkg -S "$(realpath "$lib")" 2>/dev/null ||
				dpkg -S "/usr$lib" 2>/dev/null || die "no package ships $lib"
		done | cut -d: -f1 | sort -u | paste -sd, | sed 's/,/, /g')
	mkdir -p "$root/DEBIAN"
	cat > "$root/DEBIAN/control" <<EOT
Package: $pkg
Version: 1:$QEMU_RELEASE+unmappedgmem1
Architecture: amd64
Maintainer: unmapped-gmem <dev@unmapped-gmem.invalid>
Depends: $deps, qemu-system-data, seabios, ipxe-qemu
Section: otherosfs
Priority: optional
Description: QEMU $QEMU_RELEASE with guest RAM outside the host direct map
 qemu-system-x86_64 with the unmapped-gmem patches: the
 memory-backend-guest-memfd backend (no-direct-map=on) and the
 no-direct-map and no-zero options of sev-snp-guest and tdx-guest.
 Run it as qemu-system-x86_64-unmapped-gmem; Debian's QEMU stays as it is.
EOT
	dpkg-deb --root-owner-group -Zxz -b "$root" "$debs/${pkg}_${QEMU_RELEASE}+unmappedgmem1_amd64.deb" >/dev/null
}

case $what in
kernel) deb_kernel ;;
qemu) deb_qemu ;;
all) deb_qemu; deb_kernel ;;
*) die "usage: $0 kernel|qemu|all" ;;
esac
log "packages in $debs:"
ls -1 "$debs" >&2
