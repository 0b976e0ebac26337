"""kubernetes_asyncio's generated classes load when named: the controller's start imports a
handful of them, and every name the packages export is still there, the same class."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from ipam.kube import generated


def _fresh(code: str) -> dict[str, object]:
    """Run ``code`` in a new interpreter; it prints one JSON object as its last line."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    answer: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def test_exports_reads_from_import_lines() -> None:
    init = textwrap.dedent(
        """
        from __future__ import absolute_import
        import kubernetes_asyncio.client as client
        from kubernetes_asyncio.client.api_client import ApiClient
        from kubernetes_asyncio.client.models.v1_pod import V1Pod
        __all__ = ["ApiClient"]
        """
    )
    assert generated.exports(init) == {
        "client": "kubernetes_asyncio.client",
        "ApiClient": "kubernetes_asyncio.client.api_client",
        "V1Pod": "kubernetes_asyncio.client.models.v1_pod",
    }


def test_the_controller_starts_without_the_generated_models() -> None:
    found = _fresh(
        """
        import json, sys
        import ipam.handlers.run, ipam.cli
        from kopf._cogs.helpers import thirdparty
        from kubernetes_asyncio.client.models import v1_object_meta
        loaded = [m for m in sys.modules if m.startswith("kubernetes_asyncio.client.models.")]
        print(json.dumps({
            "models": sorted(loaded),
            "kopf_sees_the_model": thirdparty.V1ObjectMetaAsync is v1_object_meta.V1ObjectMeta,
        }))
        """
    )
    assert found["kopf_sees_the_model"] is True
    models = found["models"]
    assert isinstance(models, list)
    assert 0 < len(models) < 10, models


def test_every_exported_name_is_the_class_its_module_defines() -> None:
    found = _fresh(
        """
        import importlib, json
        from pathlib import Path
        import ipam.kube
        from ipam.kube import generated
        wrong, count = [], 0
        for package in generated.PACKAGES:
            module = importlib.import_module(package)
            init = Path(module.__spec__.origin).read_text()
            for name, source in generated.exports(init).items():
                count += 1
                defined = importlib.import_module(source)
                expected = defined if source == f"{package}.{name}" else getattr(defined, name)
                if getattr(module, name) is not expected:
                    wrong.append(f"{package}.{name}")
        try:
            importlib.import_module("kubernetes_asyncio.client").NoSuchThing
            missing_raises = False
        except AttributeError:
            missing_raises = True
        import importlib.metadata, kubernetes_asyncio
        from kubernetes_asyncio import config, client
        print(json.dumps({
            "version": kubernetes_asyncio.__version__
            == importlib.metadata.version("kubernetes_asyncio"),
            "count": count,
            "wrong": wrong,
            "missing_raises": missing_raises,
            "configuration": client.Configuration.__module__,
            "loader": config.load_kube_config.__module__,
        }))
        """
    )
    assert found["wrong"] == []
    assert isinstance(found["count"], int)
    assert found["count"] > 1000
    assert found["missing_raises"] is True
    assert found["version"] is True
    assert found["configuration"] == "kubernetes_asyncio.client.configuration"
    assert found["loader"] == "kubernetes_asyncio.config.kube_config"
