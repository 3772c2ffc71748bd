#!/bin/sh
# Regenerates vmlinux/vmlinux.h from the running kernel's BTF. The checked-in header lets the
# project build without BTF; CO-RE relocates field offsets on the kernel it runs on.
set -e
btf=${1:-/sys/kernel/btf/vmlinux}
out=$(dirname "$0")/../vmlinux/vmlinux.h
[ -r "$btf" ] || { echo "gen-vmlinux: $btf not readable (kernel without CONFIG_DEBUG_INFO_BTF?)" >&2; exit 1; }
bpftool btf dump file "$btf" format c > "$out.tmp"
mv "$out.tmp" "$out"
echo "$(uname -r) $(uname -m)" > "$(dirname "$out")/SOURCE"
echo "gen-vmlinux: wrote $out from $btf ($(uname -r))"
