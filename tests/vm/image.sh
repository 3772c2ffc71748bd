#!/bin/bash
# Builds (once) the Debian root image of one vmtest guest and prints its cache directory:
# root.img (ext4, the debootstrap tree), vmlinuz, initrd.img, info (kernel and python versions).
# Usage: tests/vm/image.sh SUITE LOG
# Cached by suite, package list and rig version; a later run on this machine reuses it.
set -euo pipefail
suite=$1 log=$2
here=$(cd "$(dirname "$0")" && pwd)
# What the guests need: Debian's kernel and python3, the binary's one shared library (cJSON),
# ps/setpriv for the tests. Bump RIG_IMAGE when the image layout changes.
PKGS=linux-image-amd64,python3,libcjson1,procps,util-linux,kmod
RIG_IMAGE=1
MIRROR=${VMTEST_MIRROR:-http://deb.debian.org/debian}
CACHE=${VMTEST_CACHE:-/var/cache/ragd-bpfprof/vm}
key=$( (echo "$suite $PKGS $RIG_IMAGE $MIRROR"; cat "$here/stub-init") | sha256sum | cut -c1-12)
dir=$CACHE/$suite-$key
if [ -e "$dir/ok" ]; then
	echo "$dir"
	exit 0
fi
mkdir -p "$CACHE"
exec 9>"$dir.lock"
flock -w 1800 9 || { echo "vmtest: $dir.lock held for 30 min" >&2; exit 1; }
[ -e "$dir/ok" ] && { echo "$dir"; exit 0; }
work=$dir.tmp
rm -rf "$work" "$dir"
mkdir -p "$work"
tree=$work/tree
{
	echo "== debootstrap $suite ($PKGS) from $MIRROR"
	timeout 1500 debootstrap --variant=minbase --include="$PKGS" "$suite" "$tree" "$MIRROR"
} >>"$log" 2>&1 || { echo "vmtest: debootstrap $suite failed, see $log" >&2; exit 1; }
install -m 0755 "$here/stub-init" "$tree/sbin/rbp-init"
echo "rbp-$suite" >"$tree/etc/hostname"
cp "$tree"/boot/vmlinuz-* "$work/vmlinuz"
cp "$tree"/boot/initrd.img-* "$work/initrd.img"
kver=$(ls "$tree/lib/modules" | head -n 1)
pyver=$(readlink -f "$tree/usr/bin/python3" | sed 's|.*/python||')
echo "kernel=$kver python=$pyver" >"$work/info"
# Smaller image: nothing in the guest reads docs, manuals, locales or the apt cache.
rm -rf "$tree"/var/cache/apt/archives/*.deb "$tree"/usr/share/doc/* "$tree"/usr/share/man/* \
	"$tree"/usr/share/locale/* "$tree"/var/lib/apt/lists/*
mb=$(du -sm "$tree" | cut -f1)
mkfs.ext4 -q -F -L rbproot -d "$tree" "$work/root.img" "$((mb + mb / 4 + 256))M" >>"$log" 2>&1 ||
	{ echo "vmtest: mkfs.ext4 for $suite failed, see $log" >&2; exit 1; }
rm -rf "$tree"
touch "$work/ok"
mv "$work" "$dir"
echo "$dir"
