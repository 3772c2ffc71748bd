#!/bin/sh
# Installs the Debian/Ubuntu packages ragd-bpfprof builds and tests with, if any is missing.
# bpftrace: only `make bench` uses it (the anchors of the native row); the bench skips it visibly.
PKGS="clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libzstd-dev libcjson-dev libcmocka-dev pkg-config python3 make gcc g++ bpftrace"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "ragd-bpfprof: missing packages:$missing (run 'sudo make deps')" >&2
	exit 1
fi
echo "ragd-bpfprof: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
	echo "ragd-bpfprof: apt-get install$missing failed" >&2; exit 1; }
