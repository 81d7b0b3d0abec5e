#!/usr/bin/env bash
# Builds the miniupnpd used by the simulated homes (test/world/): Debian bookworm's miniupnpd with the
# nftables backend, with the two documentation ranges 198.51.100.0/24 and 203.0.113.0/24 removed from
# its reserved-address table (getifaddr.c). Stock miniupnpd refuses to map ports when its WAN address
# is "reserved", and the simulated internet must stay on documentation addresses (never real public
# ones). Idempotent: the binary is cached at .cache/miniupnpd/miniupnpd (git-ignored) and rebuilt only
# when missing. Run as root (installs build dependencies, may add a deb-src entry for bookworm).
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE="$PWD/.cache/miniupnpd"
BIN="$CACHE/miniupnpd"
# A second variant that also accepts 100.64.0.0/10 (RFC 6598) on its WAN: it stands for the many
# older routers that report whatever WAN address they have, so the CGNAT world shows that case.
BIN_CGN="$CACHE/miniupnpd-reports-wan"
if [ -x "$BIN" ] && [ -x "$BIN_CGN" ] && "$BIN" --version 2>&1 | grep -q nftables; then
  echo "setup.d/miniupnpd: cached $BIN"
  exit 0
fi

# deb-src for bookworm (apt-get source / build-dep need it)
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  cat > /etc/apt/sources.list.d/nodegate-deb-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt-get update -qq
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  dpkg-dev build-essential libnftnl-dev libmnl-dev libssl-dev uuid-dev pkg-config >/dev/null

mkdir -p "$CACHE/src"
cd "$CACHE/src"
if ! ls -d miniupnpd-*/ >/dev/null 2>&1; then
  apt-get source -qq miniupnpd
fi
SRCDIR="$(ls -d "$CACHE"/src/miniupnpd-*/ | head -n1)"
cd "$SRCDIR"
# Remove the two documentation ranges from the reserved table, lines like
#   { IP(198,  51, 100, 0), MSK(24) }, /* RFC5737 Documentation (TEST-NET-2) */
sed -i -E '/IP\(198, *51, *100, *0\)|IP\(203, *0, *113, *0\)/d' getifaddr.c
if grep -qE 'IP\(198, *51, *100|IP\(203, *0, *113' getifaddr.c; then
  echo "setup.d/miniupnpd: could not remove the documentation ranges from getifaddr.c" >&2
  exit 1
fi
make -s clean >/dev/null 2>&1 || true
if [ -x ./configure ]; then
  # the same options as Debian's own nftables build (debian/rules)
  ./configure --igd2 --ipv6 --vendorcfg --pcp-peer --portinuse --leasefile --firewall=nftables >/dev/null
fi
make -s -f Makefile.linux_nft miniupnpd >/dev/null 2>&1 || make -s miniupnpd
cp miniupnpd "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
cp getifaddr.c getifaddr.c.doc-ranges-removed
sed -i -E '/IP\(100, *64, *0, *0\)/d' getifaddr.c
make -s -f Makefile.linux_nft miniupnpd >/dev/null 2>&1 || make -s miniupnpd
cp miniupnpd "$BIN_CGN.tmp" && mv "$BIN_CGN.tmp" "$BIN_CGN"
mv getifaddr.c.doc-ranges-removed getifaddr.c
echo "setup.d/miniupnpd: built $BIN ($("$BIN" --version 2>&1 | head -n1))"
