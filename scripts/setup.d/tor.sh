#!/usr/bin/env bash
# tor part: the private test network needs tor (>= 0.4.8, v3 onions + ClientAuthV3 over the
# control port) and tor-gencert (authority keys), both in Debian's `tor` package, which
# scripts/setup installs and keeps from starting. This only checks, and says what to do.
set -euo pipefail
for bin in /usr/sbin/tor /usr/bin/tor-gencert; do
  if [ ! -x "$bin" ]; then
    echo "setup.d/tor: $bin is missing; install Debian's tor package: apt-get install tor" >&2
    exit 1
  fi
done
version=$(/usr/sbin/tor --version | sed -n 's/^Tor version \([0-9.]*\).*/\1/p' | head -1)
case "$version" in
  0.4.[89].*|0.[5-9].*) ;;
  *) echo "setup.d/tor: tor $version is too old (need 0.4.8 or newer)" >&2; exit 1 ;;
esac
# Never let a system tor run on the test machine (it would dial the public Tor network).
if [ -d /run/systemd/system ]; then systemctl disable --now tor tor@default >/dev/null 2>&1 || true; fi
