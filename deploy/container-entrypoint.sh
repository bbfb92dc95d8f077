#!/bin/sh
# The wgts container's main process: `wgts up` for the interface named by the first argument (or
# WG_INTERFACE, default wg0: /etc/wireguard/NAME.conf; a path to a NAME.conf file works too), say
# `wgts: NAME is up`, then wait. `docker stop` (SIGTERM) or SIGINT runs `wgts down` and exits 0;
# if the daemon goes away by itself (its link deleted, say), exit 1 so the container's restart
# policy can act.
set -eu
target="${1:-${WG_INTERFACE:-wg0}}"
name=$(basename "$target" .conf)
down() {
  trap - TERM INT
  wgts down "$target" || exit 1
  exit 0
}
# Set before `up`: a stop that arrives while `up` runs is handled once it returns.
trap down TERM INT
wgts up "$target"
echo "wgts: $name is up" >&2
# `sleep & wait` rather than a bare sleep, so a signal runs the trap at once.
while [ -S "/var/run/wireguard/$name.sock" ]; do
  sleep 1 &
  wait $! || true
done
echo "wgts: the daemon of $name exited" >&2
exit 1
