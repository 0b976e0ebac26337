#!/usr/bin/env bash
# Build the upstream controllers the project is compared with (upstream Metal3 IPAM,
# CAPM3, the Cluster API in-cluster IPAM provider) from the wrapper modules beside this
# script, each into a per-version cache outside the repository, built only when missing.
# Usage: build.sh [metal3-ipam|capm3|incluster ...] (default: all three). Prints one line
# per program on stdout, "<name> <directory>"; progress goes to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

say() { printf '[peers] %s\n' "$*" >&2; }
die() { printf '[peers] error: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || die "Go is not installed (need Go >= 1.26.0); install it and run 'make peers' again."
command -v flock >/dev/null 2>&1 || die "flock is not installed (Debian: apt-get install util-linux)."

cache=${IPAM_PEERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/capi-ipam/peers}

# name | wrapper folder | main package | version (must equal the wrapper's go.mod)
IPAM_VERSION=v1.13.2
CAPM3_VERSION=v1.13.2
BMO_VERSION=v0.13.2
INCLUSTER_VERSION=v1.1.0-rc.1

module_of() {
  case $1 in
    metal3-ipam) echo github.com/metal3-io/ip-address-manager ;;
    capm3) echo github.com/metal3-io/cluster-api-provider-metal3 ;;
    incluster) echo sigs.k8s.io/cluster-api-ipam-provider-in-cluster ;;
    *) die "unknown peer '$1' (known: metal3-ipam, capm3, incluster)" ;;
  esac
}
version_of() {
  case $1 in
    metal3-ipam) echo "$IPAM_VERSION" ;;
    capm3) echo "$CAPM3_VERSION" ;;
    incluster) echo "$INCLUSTER_VERSION" ;;
  esac
}
ldflags_of() {
  case $1 in
    incluster)
      local v=$INCLUSTER_VERSION p=sigs.k8s.io/cluster-api-ipam-provider-in-cluster/version
      echo "-s -w -X $p.gitVersion=$v -X $p.gitMajor=$(echo "${v#v}" | cut -d. -f1) \
 -X $p.gitMinor=$(echo "${v#v}" | cut -d. -f2) -X $p.gitTreeState=clean" ;;
    *) echo "-s -w" ;;  # the Metal3 programs carry no version variables
  esac
}

fail_build() { # log-file what
  tail -n 20 "$1" >&2
  if grep -qiE 'proxy|dial tcp|no such host|i/o timeout|connection refused|403|404|GOPROXY=off' "$1"; then
    die "$2: the Go module proxy ($(go env GOPROXY)) did not serve a pinned module (log: $1). The wrappers name explicit versions only: the proxy refuses @latest for these modules."
  fi
  die "$2 failed (log: $1)"
}

build_one() { # name
  local name=$1 module version wrapper dir start src
  module=$(module_of "$name")
  version=$(version_of "$name")
  wrapper="$here/$name"
  [ -f "$wrapper/go.mod" ] || die "$wrapper/go.mod is missing"
  dir="$cache/$name-$version"
  mkdir -p "$dir/bin"
  local selected
  selected=$(cd "$wrapper" && go list -m -f '{{.Version}}' "$module" 2>"$dir/resolve.log") \
    || fail_build "$dir/resolve.log" "$name: resolving $module in $wrapper"
  [ "$selected" = "$version" ] \
    || die "$wrapper/go.mod selects $module $selected, build.sh says $version; change them together"
  # One build per cache directory at a time: a second caller waits, then finds it cached.
  exec 9>"$dir/.lock"
  if ! flock -n 9; then
    say "$name: another build is running; waiting for it ..."
    flock 9
  fi
  if [ -x "$dir/bin/$name" ] && [ -f "$dir/peer.env" ]; then
    say "$name $version: cached"
  else
    say "$name $version: building $module (several minutes of CPU; tens of minutes on a loaded machine) ..."
    start=$(date +%s)
    if ! (cd "$wrapper" && CGO_ENABLED=0 go build -trimpath -ldflags "$(ldflags_of "$name")" \
          -o "$dir/bin/$name.tmp" "$module") 2>"$dir/build.log"; then
      fail_build "$dir/build.log" "$name: go build"
    fi
    mv "$dir/bin/$name.tmp" "$dir/bin/$name"
    say "$name: built in $(( $(date +%s) - start ))s"
    src=$(cd "$wrapper" && go list -m -f '{{.Dir}}' "$module")
    [ -d "$src/config/crd/bases" ] || die "$module source missing at $src"
    {
      printf 'NAME=%s\nMODULE=%s\nVERSION=%s\nSOURCE=%s\n' "$name" "$module" "$version" "$src"
      if [ "$name" = capm3 ]; then
        # BareMetalHost and HardwareData CRDs: from baremetal-operator's root module, which no
        # wrapper requires (its /apis sub-module has Go types only). Downloaded by explicit
        # version, outside any module graph; the checksum database verifies it.
        local bmo
        bmo=$(cd "$dir" && go mod download -json "github.com/metal3-io/baremetal-operator@$BMO_VERSION" \
          | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
        [ -d "$bmo/config/base/crds/bases" ] || die "baremetal-operator $BMO_VERSION could not be downloaded"
        printf 'BMO_VERSION=%s\nBMO_SOURCE=%s\n' "$BMO_VERSION" "$bmo"
      fi
    } > "$dir/peer.env.tmp"
    mv "$dir/peer.env.tmp" "$dir/peer.env"
  fi
  exec 9>&-
  echo "$name $dir"
}

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(metal3-ipam capm3 incluster)
say "go: $(go version | awk '{print $3}'); cache: $cache"
for name in "${names[@]}"; do
  build_one "$name"
done
