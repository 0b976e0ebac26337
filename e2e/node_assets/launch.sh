#!/usr/bin/env bash
# PID 1 of a harness node's PID namespace, in a private mount namespace:
#   unshare --pid --fork --kill-child --mount --propagation private --mount-proc \
#     bash launch.sh NODE_DIR KUBELET_BINARY
# Pod network namespace pins, containerd's shim sockets and the CNI result cache go to
# private tmpfs mounts; the sysctls the kubelet and the CNI bridge write (NODE_DIR/sysctls)
# go to private copies; when this script ends the kernel kills everything left in the
# namespace (shims, pauses, containers). Only the bridge and the cgroups outlive it (see
# e2e/host.py).
set -u
dir=$1
kubelet=$2
mkdir -p /run/netns /run/containerd /var/lib/cni "$dir/sysctl" "$dir/logs"
mount -t tmpfs -o mode=755 tmpfs /run/netns
mount -t tmpfs -o mode=711 tmpfs /run/containerd
mount -t tmpfs -o mode=700 tmpfs /var/lib/cni
while read -r key; do
  copy="$dir/sysctl/${key//\//.}"
  cat "/proc/sys/$key" > "$copy"
  mount --bind "$copy" "/proc/sys/$key"
done < "$dir/sysctls"

containerd --config "$dir/containerd.toml" >>"$dir/logs/containerd.log" 2>&1 &
containerd_pid=$!
for _ in $(seq 100); do
  [ -S "$dir/containerd/containerd.sock" ] && break
  kill -0 "$containerd_pid" 2>/dev/null || { echo "containerd exited; see $dir/logs/containerd.log"; exit 1; }
  sleep 0.1
done
"$kubelet" --config="$dir/kubelet.yaml" --kubeconfig="$dir/kubelet.kubeconfig" \
  --hostname-override="$(cat "$dir/node-name")" --node-ip="$(cat "$dir/node-ip")" \
  --root-dir="$dir/kubelet" --cert-dir="$dir/kubelet/pki" --v=2 \
  >>"$dir/logs/kubelet.log" 2>&1 &
kubelet_pid=$!
echo "node running: containerd $containerd_pid, kubelet $kubelet_pid"

stop() { kill -TERM "$kubelet_pid" "$containerd_pid" 2>/dev/null; }
trap stop TERM INT
wait -n "$containerd_pid" "$kubelet_pid"
status=$?
stop
wait
echo "node stopped (first exit status $status)"
