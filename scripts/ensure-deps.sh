#!/bin/sh
# Installs the Debian packages the interop tests drive (the real wireguard-go and wg, iperf3,
# nftables, ping, promtool), the cross toolchains the package tests build with, groff and
# systemd-analyze for the man page and unit checks, clang-format for the C formatting check and
# gcc's sanitizer runtimes for scripts/asan.sh, when they are missing. Needs root and Debian's
# package lists; without them it says what is missing and the tests that need those tools skip
# with a reason.
set -u
missing=""
need() { command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }
need wireguard-go wireguard-go
need wg wireguard-tools
need iperf3 iperf3
need nft nftables
need ping iputils-ping
need ip iproute2
need ss iproute2
need tcpdump tcpdump
need promtool prometheus
# test/package/prebuilds: the npm package's prebuilt addons for musl and arm64, checked with
# readelf and loaded in an arm64 Node under qemu-user.
need readelf binutils
need musl-gcc musl-tools
need aarch64-linux-gnu-gcc "gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
need qemu-aarch64-static qemu-user-static
need groff groff-base                # man page check (test/deploy/man)
need systemd-analyze systemd         # unit check (test/deploy/systemd); does not become PID 1
need setpriv util-linux              # non-root runs (test/cli/errors-netns)
need curl curl                      # real clients of wgts proxy (test/proxy)
need clang-format clang-format      # the C formatting check of npm run lint (scripts/check-c-format.sh)
# scripts/asan.sh (CI's sanitizer job): gcc's AddressSanitizer and UBSan runtimes.
if command -v gcc >/dev/null 2>&1; then
  [ -e "$(gcc -print-file-name=libasan.so.8)" ] || missing="$missing libasan8"
  [ -e "$(gcc -print-file-name=libubsan.so.1)" ] || missing="$missing libubsan1"
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-deps: missing$missing (run as root on Debian to install); interop tests will skip" >&2
  exit 0
fi
echo "ensure-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends $missing >/dev/null 2>&1; then
  apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends $missing >/dev/null 2>&1 \
    || echo "ensure-deps: could not install$missing" >&2
fi
exit 0
