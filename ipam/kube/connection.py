"""Where the API server is and who we are to it: from a kubeconfig, else from the Pod's account."""

from __future__ import annotations

import os
from dataclasses import dataclass

from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import config as k8s_config


class ConfigurationError(Exception):
    """Neither a kubeconfig nor an in-cluster service account could be loaded."""


@dataclass(frozen=True)
class Credentials:
    """What any HTTP client needs to talk to the API server as this controller."""

    server: str
    ca_path: str | None
    insecure: bool
    scheme: str | None
    token: str | None
    certificate_path: str | None
    private_key_path: str | None


def kubeconfig_path(explicit: str | None = None) -> str | None:
    """The kubeconfig to use: the explicit one, $KUBECONFIG, ~/.kube/config, or None."""
    path = explicit or os.environ.get("KUBECONFIG")
    if path:
        return path
    default = os.path.expanduser("~/.kube/config")
    return default if os.path.exists(default) else None


async def load_configuration(kubeconfig: str | None = None) -> k8s.Configuration:
    """Read the explicit kubeconfig, else $KUBECONFIG/~/.kube/config, else the Pod's account."""
    configuration = k8s.Configuration()
    path = kubeconfig_path(kubeconfig)
    if path:
        try:
            await k8s_config.load_kube_config(config_file=path, client_configuration=configuration)
        except (k8s_config.ConfigException, OSError) as err:
            raise ConfigurationError(f"cannot load kubeconfig {path}: {err}") from err
        return configuration
    try:
        k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except k8s_config.ConfigException as err:
        raise ConfigurationError(
            "no kubeconfig ($KUBECONFIG, ~/.kube/config) and not running in a Pod"
        ) from err
    return configuration


async def credentials(configuration: k8s.Configuration) -> Credentials:
    """The bearer token or client certificate the configuration authenticates with."""
    header = await configuration.get_api_key_with_prefix("BearerToken")
    parts = header.split(" ", 1) if header else []
    scheme, token = (
        (None, None) if not parts else (None, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    )
    return Credentials(
        server=configuration.host or "",
        ca_path=configuration.ssl_ca_cert,
        insecure=not configuration.verify_ssl,
        scheme=scheme,
        token=token,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
    )
