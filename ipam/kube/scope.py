"""The namespace a command means when none is named: the kubeconfig context's, as kubectl does.

Without a kubeconfig (in a Pod) it is the Pod's own namespace; failing everything,
``default``. A kubeconfig that cannot be read is left for the connection to report.
"""

from __future__ import annotations

from pathlib import Path

from kubernetes_asyncio import config as k8s_config

from ipam.kube import connection

DEFAULT = "default"
POD_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def current_namespace(kubeconfig: str | None = None) -> str:
    """The namespace of the kubeconfig's current context, else the Pod's, else ``default``."""
    path = connection.kubeconfig_path(kubeconfig)
    if path is None:
        try:
            return POD_NAMESPACE.read_text().strip() or DEFAULT
        except OSError:
            return DEFAULT
    try:
        _, current = k8s_config.list_kube_config_contexts(config_file=path)
    except Exception:  # any unreadable kubeconfig: the connection reports it
        return DEFAULT
    context = current.get("context") if isinstance(current, dict) else None
    namespace = context.get("namespace") if isinstance(context, dict) else None
    return namespace if isinstance(namespace, str) and namespace else DEFAULT
