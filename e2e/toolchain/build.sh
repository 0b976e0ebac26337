#!/usr/bin/env bash
# Build kube-apiserver, kube-controller-manager, etcd, clusterctl, the Cluster API
# core manager, and a node's kubelet and kube-scheduler from the Go modules pinned in
# go.mod, into a per-version cache outside the repository.
# Each program is built only when it is missing. Prints the directory on stdout
# (last line); progress goes to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

say() { printf '[tools] %s\n' "$*" >&2; }
die() { printf '[tools] error: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || die "Go is not installed (need Go >= $(sed -n 's/^go //p' go.mod)); install it and run 'make tools' again."

mod_version() { go list -m -f '{{.Version}}' "$1" 2>/dev/null; }
K8S=$(mod_version k8s.io/kubernetes)
ETCD=$(mod_version go.etcd.io/etcd/server/v3)
CAPI=$(mod_version sigs.k8s.io/cluster-api)
[ -n "$K8S" ] && [ -n "$ETCD" ] && [ -n "$CAPI" ] || die "cannot read the pinned versions from $here/go.mod"

cache=${IPAM_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/capi-ipam/tools}
dir="$cache/k8s-$K8S-etcd-$ETCD-capi-$CAPI"
mkdir -p "$dir/bin"
# One build at a time per cache: a second caller (a test session started beside
# `make tools`, say) waits here and then finds the programs cached.
exec 9>"$dir/.lock"
if ! flock -n 9; then
  say "another build of these tools is running; waiting for it ..."
  flock 9
fi

k8s_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S \
 -X k8s.io/component-base/version.gitMajor=$(echo "${K8S#v}" | cut -d. -f1) \
 -X k8s.io/component-base/version.gitMinor=$(echo "${K8S#v}" | cut -d. -f2) \
 -X k8s.io/component-base/version.gitTreeState=clean"
capi_ldflags="-s -w -X sigs.k8s.io/cluster-api/version.gitVersion=$CAPI \
 -X sigs.k8s.io/cluster-api/version.gitMajor=$(echo "${CAPI#v}" | cut -d. -f1) \
 -X sigs.k8s.io/cluster-api/version.gitMinor=$(echo "${CAPI#v}" | cut -d. -f2) \
 -X sigs.k8s.io/cluster-api/version.gitTreeState=clean"

build() { # name package ldflags
  local name=$1 pkg=$2 ldflags=$3 start
  if [ -x "$dir/bin/$name" ]; then say "$name: cached"; return; fi
  say "$name: building $pkg ..."
  start=$(date +%s)
  if ! CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$dir/bin/$name.tmp" "$pkg" 2>"$dir/$name.build.log"; then
    tail -n 30 "$dir/$name.build.log" >&2
    if grep -qiE 'proxy|dial tcp|no such host|i/o timeout|connection refused' "$dir/$name.build.log"; then
      die "$name: the Go module proxy ($(go env GOPROXY)) could not be reached to download the pinned modules."
    fi
    die "$name: go build failed (log: $dir/$name.build.log)"
  fi
  mv "$dir/bin/$name.tmp" "$dir/bin/$name"
  say "$name: built in $(( $(date +%s) - start ))s"
}

total=$(date +%s)
say "versions: kubernetes $K8S, etcd $ETCD, cluster-api/clusterctl $CAPI ($(go version | awk '{print $3}'))"
build etcd ./cmd/etcd "-s -w"
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$k8s_ldflags"
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "$k8s_ldflags"
build clusterctl sigs.k8s.io/cluster-api/cmd/clusterctl "$capi_ldflags"
build capi-manager sigs.k8s.io/cluster-api/core "$capi_ldflags"
build kubelet k8s.io/kubernetes/cmd/kubelet "$k8s_ldflags"
build kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler "$k8s_ldflags"
# Cluster API's CRDs and clusterctl's inventory CRD come from the same pinned module.
capi_dir=$(go list -m -f '{{.Dir}}' sigs.k8s.io/cluster-api)
[ -d "$capi_dir/core/config/crd/bases" ] || die "cluster-api module source missing at $capi_dir"
printf 'KUBERNETES_VERSION=%s\nETCD_VERSION=%s\nCLUSTER_API_VERSION=%s\nCLUSTER_API_DIR=%s\n' "$K8S" "$ETCD" "$CAPI" "$capi_dir" > "$dir/versions.env"
say "ready in $(( $(date +%s) - total ))s: $dir"
echo "$dir"
