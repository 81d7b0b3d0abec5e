#!/usr/bin/env bash
# The end-to-end test (test/world/e2e.test.ts) needs, beside what the base setup installs (chromium,
# pebble, miniupnpd's build via setup.d/miniupnpd.sh, dig, curl, openssl, nft): certutil from
# libnss3-tools, to put pebble's root into the NSS database of the phone's chromium. Idempotent.
set -euo pipefail
missing=()
command -v certutil >/dev/null 2>&1 || missing+=(libnss3-tools)
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup.d/world: certutil present"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup.d/world: installed ${missing[*]}"
