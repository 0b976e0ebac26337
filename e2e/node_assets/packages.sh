#!/usr/bin/env bash
# Install the Debian packages a harness node needs, when they are missing and this is root
# on Debian. Anywhere else it says which are missing and succeeds: the node tests then skip
# with the same message.
set -euo pipefail
packages=(containerd runc containernetworking-plugins mmdebstrap gcc libc6-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "[node] not installed: ${missing[*]} (root on Debian: apt-get install ${missing[*]}); the node tests will be skipped" >&2
  exit 0
fi
echo "[node] apt-get install ${missing[*]} ..." >&2
start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
echo "[node] installed in $(( $(date +%s) - start ))s" >&2
