# SPDX-License-Identifier: GPL-2.0
# Paths, pins and helpers shared by every script. Source it; do not run it.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$TOP/out}
# Downloads and ccache survive `make clean`; only `make distclean` drops them.
CACHE=${CACHE:-$OUT/cache}
BUILD=$OUT/build
RESULTS=$OUT/results

# Pinned sources: the release, Debian's package and version, the file we
# keep, its SHA256. Scripts derive every other name and version from these.
LINUX_RELEASE=7.2.13
LINUX_PKG=linux-source-7.2
LINUX_VER=7.2.13-1
LINUX_DEB=linux-source-7.2_7.2.13-1_all.deb
LINUX_SHA256=30a8c5fc63f9028a62e6d7b3f7f43bee67425dbce2a05fceba83f9b87c92083d
LINUX_TAG=v7.2.13
# Debian's kernel configs of the same release: make deb starts from amd64's.
LINUX_CONFIG_PKG=linux-config-7.2
LINUX_CONFIG_DEB=linux-config-7.2_7.2.13-1_amd64.deb
LINUX_CONFIG_SHA256=efd73ee3a4bd90d51a0286da81d6c9bfcd5405d9cf5b2cd0caa35a8435d171ac

QEMU_RELEASE=10.2.2
QEMU_PKG=qemu
QEMU_VER=1:10.2.2+ds-1
QEMU_TARBALL=qemu_10.2.2+ds.orig.tar.xz
QEMU_SHA256=be05230fe47a6937cd29f28f562932c8125f9c93c2a82c625198f7a4aa601dfb
QEMU_DEBIAN_TARBALL=qemu_10.2.2+ds-1.debian.tar.xz
QEMU_DEBIAN_SHA256=ddf75aceab4f8f77374f3cb34fc97b41514895aeb293ce8b2ddd5e072bb0f5c0
# Debian's own patches our QEMU base needs: the +ds tarball has no firmware
# blobs (edk2, dtb), so the build must not try to unpack or install them.
QEMU_DEBIAN_PATCHES="skip-unpack-edk2-blobs.patch skip-install-dtb.patch"

KSRC=$BUILD/linux
KOUT_BASE=$BUILD/kernel
QSRC=$BUILD/qemu
QOUT=$BUILD/qemu-build

export CCACHE_DIR=${CCACHE_DIR:-$CACHE/ccache}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
# Depend mode: on a miss ccache compiles once and takes the headers from
# the compiler's dependency file, instead of running the preprocessor
# first. A cold build (every CI run) is all misses.
export CCACHE_DEPEND=${CCACHE_DEPEND:-true}

# Debian's python, not a pyenv one: meson and kunit.py need its modules.
PYTHON=/usr/bin/python3

# Each step is stamped with the time of day, so a log of a whole run
# (make check > file) shows where its time went.
log()
{
	printf '==> %(%H:%M:%S)T %s\n' -1 "$*" >&2
}

die()
{
	printf 'error: %s\n' "$*" >&2
	exit 1
}

# The Debian packages among "$@" that are not installed.
missing()
{
	local p
	for p in "$@"; do
		dpkg-query -W -f='${db:Status-Status}\n' "$p" 2>/dev/null |
			grep -qx installed || echo "$p"
	done
}

# Install the Debian packages among "$@" that are missing, from the
# machine's own sources.
install_missing()
{
	local need

	need=$(missing "$@")
	[ -n "$need" ] || return 0
	log "installing:" $need
	as_root apt-get update -qq
	# shellcheck disable=SC2086
	as_root apt-get install -y -qq --no-install-recommends $need >/dev/null
}

# Run as root, or through sudo when we are not.
as_root()
{
	if [ "$(id -u)" = 0 ]; then
		"$@"
	else
		sudo "$@"
	fi
}

# Private apt configurations that never touch /etc/apt, on the mirror the
# machine already uses:
#   sid       - only for downloading pinned packages (never for installing);
#   backports - the machine's own bookworm suites plus bookworm-backports,
#               for installing meson and qemu-system-x86.
apt_dir()
{
	echo "$CACHE/apt-$1"
}

# apt_private NAME apt-get|apt-cache ARGS...
apt_private()
{
	local dir tool=$2
	dir=$(apt_dir "$1")
	shift 2
	"$tool" -o Dir::Etc::SourceList="$dir/sources.list" \
		-o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$dir/lists" \
		-o Dir::Cache="$dir/cache" \
		-o Dir::Etc::Preferences=/dev/null \
		-o Dir::Etc::PreferencesParts=/dev/null \
		-o APT::Sandbox::User=root \
		"$@"
}

apt_private_setup()
{
	local name=$1 dir uri try key=/usr/share/keyrings/debian-archive-keyring.gpg

	dir=$(apt_dir "$name")
	# Lists younger than a day are good enough.
	if [ -n "$(find "$dir/lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null)" ]; then
		return 0
	fi
	uri=$(apt-get indextargets --format '$(REPO_URI) $(CODENAME)' |
	      awk '$2 == "bookworm" { print $1; exit }')
	[ -n "$uri" ] || die "no bookworm mirror in this machine's apt configuration"
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	case $name in
	sid)
		echo "deb [signed-by=$key] $uri sid main"
		echo "deb-src [signed-by=$key] $uri sid main"
		;;
	backports)
		apt-get indextargets --format '$(REPO_URI) $(CODENAME)' |
			awk '$2 ~ /^bookworm/ { print $1, $2 }' | sort -u |
			while read -r u c; do
				echo "deb [signed-by=$key] $u $c main"
			done
		echo "deb [signed-by=$key] $uri bookworm-backports main"
		;;
	esac > "$dir/sources.list"
	# apt-get update exits 0 when an index could not be fetched: retry
	# until the package lists are really there.
	for try in 1 2 3; do
		log "updating private apt lists ($name) from $uri"
		apt_private "$name" apt-get update -qq ||
			die "apt-get update ($name) against $uri failed"
		[ -n "$(find "$dir/lists" -maxdepth 1 -name '*_Packages*' 2>/dev/null)" ] && return 0
		sleep $((try * 10))
	done
	die "apt-get update ($name) against $uri fetched no package lists"
}

# The lines of a list file without comments and blank lines.
list_entries()
{
	sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$1"
}

# The test registry, scripts/tests.list: one line a test, "NAME WHERE
# TIMEOUT FLAVOURS [COMMAND ARGS...]".
TESTS_LIST=$TOP/scripts/tests.list

# tests_select FLAVOUR [WHERE]: the registry's lines for that flavour (and
# place), in order.
tests_select()
{
	list_entries "$TESTS_LIST" |
		awk -v f="$1" -v w="${2:-}" '(w == "" || index("," $2 ",", "," w ",")) && index("," $4 ",", "," f ",")'
}

# tests_line NAME: that test's line of the registry.
tests_line()
{
	list_entries "$TESTS_LIST" | awk -v n="$1" '$1 == n'
}

# tests_selftests FLAVOUR: the paths of the KVM selftests the flavour runs.
tests_selftests()
{
	tests_select "$1" | awk '$5 == "selftest" { print $6 }' | sort -u
}

# run_test DIR SELFTESTS NAME: run that test of the registry (KVM
# selftests from the SELFTESTS build directory) under its timeout; its
# output goes to DIR/NAME.log, "EXIT_CODE MILLISECONDS" to DIR/NAME.rc,
# which scripts/host/report.py reads.
run_test()
{
	local dir=$1 selftests=$2 name=$3 limit cmd start rc

	read -r _ _ limit _ cmd < <(tests_line "$name")
	# shellcheck disable=SC2086
	set -- $cmd
	if [ "$1" = selftest ]; then
		shift
		set -- "$selftests/$@"
	else
		set -- "$TOP/scripts/$@"
	fi
	mkdir -p "$dir"
	if [ ! -x "$1" ]; then
		echo "missing test program $1" > "$dir/$name.log"
		echo "127 0" > "$dir/$name.rc"
		return
	fi
	echo "--- $name" >&2
	start=$(date +%s%N)
	timeout -k 10 "$limit" "$@" > "$dir/$name.log" 2>&1 < /dev/null
	rc=$?
	echo "$rc $(( ($(date +%s%N) - start) / 1000000 ))" > "$dir/$name.rc"
}

# The nested guest of the VM tests: our QEMU on KVM inside the test VM,
# booting our test kernel with the busybox initramfs (demo/guest-init).
NESTED_QEMU=$QOUT/qemu-system-x86_64
NESTED_KERNEL=$KOUT_BASE-test/arch/x86/boot/bzImage
NESTED_INITRD=$BUILD/nested-initramfs.cpio.gz

# nested_qemu_ready: whether a nested guest can start here; says why not.
nested_qemu_ready()
{
	local f

	for f in "$NESTED_QEMU" "$NESTED_KERNEL" "$NESTED_INITRD"; do
		[ -e "$f" ] || { echo "missing $f" >&2; return 1; }
	done
	[ -w /dev/kvm ] || { echo "no /dev/kvm" >&2; return 1; }
}

# The command that boots the nested guest, headless, one vCPU, no reboot;
# callers add its memory, serial ports and kernel command line, which
# starts with NESTED_APPEND. The guest is a payload: the KUnit suites
# already ran in the test VM's own boot, and lockdep's validation, which
# the test VM does, only slows it down (it boots the same test kernel).
# Its timer is the local APIC's, ticking periodically: under nested SVM in
# TCG, KVM cannot scale the guest's TSC ("user requested TSC rate below
# hardware speed"), and guests on the TSC-deadline timer now and then
# slept for good, once at power-off, once mid-boot.
NESTED_APPEND="console=ttyS0 panic=-1 quiet kunit.enable=0 lockdep.prove_locking=0 lapic=notscdeadline nohz=off highres=off"
NESTED_QEMU_CMD=("$NESTED_QEMU" -accel kvm -cpu host -smp 1 -nodefaults -nographic
		 -L /usr/share/seabios -L /usr/share/qemu -no-reboot
		 -kernel "$NESTED_KERNEL" -initrd "$NESTED_INITRD")

# The cache:aio pairs of the disk tests and benchmark (aio=native needs
# cache=none); a nested guest names each disk by its serial, cache-aio.
DISK_MODES="none:threads none:native none:io_uring writeback:threads writeback:io_uring"

# disk_args MODE IMAGE ID: a nested QEMU's options for a virtio-blk disk.
disk_args()
{
	echo "-drive file=$2,format=raw,if=none,id=$3,cache=${1%:*},aio=${1#*:}"
	echo "-device virtio-blk-pci,drive=$3,serial=${1/:/-}"
}

# ext4_on_loop DIR MIB: mount a fresh ext4 of MIB MiB, on a loop device
# over a file in DIR, at DIR/ext4; sets LOOP_DEV. A real block device:
# O_DIRECT into a file there pins the user's pages (tmpfs would copy).
ext4_on_loop()
{
	truncate -s "$2M" "$1/fs.img" &&
		mkfs.ext4 -q -F "$1/fs.img" &&
		LOOP_DEV=$(losetup -f --show "$1/fs.img") &&
		mkdir -p "$1/ext4" && mount -t ext4 "$LOOP_DEV" "$1/ext4"
}

# ext4_on_loop_cleanup DIR: undo ext4_on_loop.
ext4_on_loop_cleanup()
{
	mountpoint -q "$1/ext4" && umount "$1/ext4"
	[ -n "${LOOP_DEV:-}" ] && losetup -d "$LOOP_DEV"
	LOOP_DEV=
}

# qmp SOCKET COMMAND [JSON-ARGUMENTS]: one QMP command to a nested QEMU,
# through QEMU's Python library from our QEMU source tree. A QEMU that
# does not answer in 3 minutes fails the command (status 124), not the
# whole test by its time limit.
qmp()
{
	QEMU_PYTHON=$QSRC/python timeout 180 "$PYTHON" "$TOP/scripts/guest/qmp.py" "$@"
}

# ktap_note FILE...: the files' lines as KTAP diagnostics.
ktap_note()
{
	sed 's/^/# /' "$@"
}

# wait_for_line PATTERN FILE SECONDS [PID]: until a line of FILE matches
# PATTERN; gives up after SECONDS, or as soon as process PID has exited.
wait_for_line()
{
	local pattern=$1 file=$2 seconds=$3 pid=${4:-}

	while [ "$seconds" -gt 0 ]; do
		grep -q "$pattern" "$file" 2>/dev/null && return 0
		[ -z "$pid" ] || kill -0 "$pid" 2>/dev/null || return 1
		sleep 1
		seconds=$((seconds - 1))
	done
	return 1
}

# guest_tell FIFO LINE: sends LINE to a nested guest's control port. The
# FIFO is opened for reading too, so that the write cannot block in open()
# when the guest's QEMU has already gone.
guest_tell()
{
	echo "$2" 1<> "$1"
}

# wait_exit PID SECONDS: the exit status of background process PID (a
# nested QEMU); one still running after SECONDS is killed (status 137).
wait_exit()
{
	local pid=$1 seconds=$2

	while [ "$seconds" -gt 0 ] && kill -0 "$pid" 2>/dev/null; do
		sleep 1
		seconds=$((seconds - 1))
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid"
}

# Shell tests print KTAP through the kernel's helpers; source this file,
# then use ktap_check.
KTAP_HELPERS=$KSRC/tools/testing/selftests/kselftest/ktap_helpers.sh

# ktap_check DESCRIPTION COMMAND...: one KTAP result, ok if COMMAND succeeds.
ktap_check()
{
	local what=$1
	shift
	if "$@"; then
		ktap_test_pass "$what"
	else
		ktap_test_fail "$what"
	fi
}

# The value of a /proc/vmstat counter.
vmstat()
{
	awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat
}

sha256_ok()
{
	[ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

# Fixed build identity: the same sources give the same kernel.
KBUILD_REPRO=(KBUILD_BUILD_TIMESTAMP="2026-01-01" KBUILD_BUILD_USER=build
	      KBUILD_BUILD_HOST=unmapped-gmem)

# verify_config KOUT FRAGMENT...: fail naming every option the fragments
# ask for that did not reach KOUT/.config as asked (a dependency missing).
verify_config()
{
	local kout=$1 line sym have bad=0
	local -A want=()
	shift

	# A later fragment overrides an earlier one, as in merge_config.sh.
	while read -r line; do
		case $line in
		CONFIG_*=*)
			want[${line%%=*}]=${line#*=} ;;
		"# CONFIG_"*" is not set")
			sym=${line#\# } sym=${sym%% *} want[$sym]=n ;;
		esac
	done < <(cat "$@")
	for sym in "${!want[@]}"; do
		have=$(sed -n -e "s/^$sym=//p" -e "s/^# $sym is not set/n/p" "$kout/.config")
		[ "${have:-n}" = "${want[$sym]}" ] && continue
		echo "error: $sym=${want[$sym]} requested but .config has ${have:-it unset}" >&2
		bad=1
	done
	[ $bad = 0 ] || die "$kout/.config lacks requested options; check their dependencies"
}

# export_series TREE OUTDIR COVER_LETTER: pristine..HEAD of the git tree
# TREE as a format-patch series in OUTDIR, with a base-commit line and
# the cover letter's first line as its subject and the rest as its text.
export_series()
{
	local tree=$1 out=$2 text=$3 cover

	rm -rf "$out"
	git -C "$tree" format-patch -q --zero-commit --no-signature --cover-letter \
		--base=pristine -o "$out" pristine..HEAD
	cover=$(ls "$out"/0000-*.patch)
	"$PYTHON" - "$cover" "$text" <<'EOF'
import sys
path, text = sys.argv[1:]
s = open(path).read()
subject, body = open(text).read().split("\n", 1)
s = s.replace("*** SUBJECT HERE ***", subject)
s = s.replace("*** BLURB HERE ***", body.strip("\n"))
open(path, "w").write(s)
EOF
	log "exported $(find "$out" -name '0*.patch' ! -name '0000-*' | wc -l) patches and a cover letter to $out"
}

# Our kernel files live at their kernel paths below these top-level folders
# of this repo (scripts/ is ours and not part of the overlay).
KERNEL_OVERLAY_DIRS="Documentation arch include mm tools virt"

# Fixed identities and dates keep the assembled tree's commits reproducible.
export GIT_AUTHOR_NAME="unmapped-gmem build" GIT_AUTHOR_EMAIL="build@localhost"
export GIT_COMMITTER_NAME="unmapped-gmem build" GIT_COMMITTER_EMAIL="build@localhost"
export GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"

# A hash of the named files' contents (missing files count as empty).
files_stamp()
{
	local f
	for f in "$@"; do
		printf '%s\n' "$f"
		[ -f "$f" ] && cat "$f"
	done | sha256sum | cut -d' ' -f1
}

# Make the freshly unpacked source in $1 a git repository whose one
# commit, tagged "pristine", is the upstream release.
tree_commit_pristine()
{
	git -C "$1" init -q -b upstream
	git -C "$1" config gc.auto 0
	git -C "$1" add -A -f .
	# A fixed author date too: the same tarball gives the same commit
	# everywhere, so an exported series' base-commit line is stable.
	GIT_AUTHOR_DATE=$GIT_COMMITTER_DATE git -C "$1" commit -q -m "$2"
	git -C "$1" tag pristine
}

# tree_apply_series SRC SERIES_DIR STAMP: put SRC at "pristine" plus the
# patches SERIES_DIR/series names, applied in order with git am. git am
# runs in a sparse worktree holding only the files the series touches;
# SRC then moves to the result, rewriting only files whose contents
# differ, so an edit to one patch rebuilds only what that patch touches.
tree_apply_series()
{
	local src=$1 dir=$2 stamp_file=$3 patches=() p stamp wt head

	if [ -f "$dir/series" ]; then
		while read -r p; do
			[ -f "$dir/$p" ] || die "${dir#"$TOP"/}/series names a missing patch $p"
			patches+=("$dir/$p")
		done < <(list_entries "$dir/series")
	fi
	stamp=$(files_stamp "$dir/series" "${patches[@]}")
	[ "$(cat "$stamp_file" 2>/dev/null)" = "$stamp" ] && return 0
	rm -f "$stamp_file"

	head=$(git -C "$src" rev-parse pristine)
	if [ ${#patches[@]} -gt 0 ]; then
		wt=$src-am
		git -C "$src" worktree remove -f "$wt" 2>/dev/null || rm -rf "$wt"
		git -C "$src" worktree prune
		git -C "$src" worktree add -q --no-checkout --detach "$wt" pristine
		# shellcheck disable=SC2046
		git -C "$wt" sparse-checkout set --no-cone \
			$(sed -n -e 's|^--- a/||p' -e 's|^+++ b/||p' "${patches[@]}" | sort -u)
		git -C "$wt" reset -q --hard
		for p in "${patches[@]}"; do
			log "applying ${p#"$TOP"/}"
			if ! git -C "$wt" am -q --whitespace=nowarn "$p"; then
				git -C "$wt" am --abort || true
				die "${p#"$TOP"/} does not apply (on top of pristine and the patches before it)"
			fi
		done
		head=$(git -C "$wt" rev-parse HEAD)
		git -C "$src" worktree remove -f "$wt"
	fi
	git -C "$src" checkout -q -f --detach "$head"
	echo "$stamp" > "$stamp_file"
}

# Our scripts drive kbuild, kselftest and ninja themselves: do not leak the
# top-level make's flags and variables (make check T=...) into them.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
