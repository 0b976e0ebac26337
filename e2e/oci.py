"""Write an OCI image archive (image-layout in a tar) from layer tarballs and a config.

What ``ctr images import`` and ``docker load`` read: ``oci-layout``, ``index.json`` naming
one manifest, and ``blobs/sha256/`` holding the manifest, the image config and the layers.
Layers are stored uncompressed, so each digest is also its ``diff_id``.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LAYER = "application/vnd.oci.image.layer.v1.tar"
CONFIG = "application/vnd.oci.image.config.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"


@dataclass(frozen=True)
class ImageConfig:
    """The runtime part of an image config: what a Dockerfile's ENV, USER... instructions set."""

    entrypoint: Sequence[str] = ()
    cmd: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    user: str = ""
    working_dir: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        config: dict[str, Any] = {"Env": [f"{k}={v}" for k, v in self.env.items()]}
        if self.entrypoint:
            config["Entrypoint"] = list(self.entrypoint)
        if self.cmd:
            config["Cmd"] = list(self.cmd)
        if self.user:
            config["User"] = self.user
        if self.working_dir:
            config["WorkingDir"] = self.working_dir
        if self.labels:
            config["Labels"] = dict(self.labels)
        return config


def _digest_of_file(path: Path) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
            size += len(chunk)
    return f"sha256:{sha.hexdigest()}", size


def _descriptor(media_type: str, digest: str, size: int, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest, "size": size, **extra}


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _blob(data: bytes) -> tuple[str, bytes]:
    return f"sha256:{hashlib.sha256(data).hexdigest()}", data


def write_archive(
    path: Path, *, name: str, layers: Sequence[Path], config: ImageConfig, arch: str = "amd64"
) -> str:
    """Write the archive to ``path`` (atomically) and return the manifest's digest."""
    layer_descriptors = []
    for layer in layers:
        digest, size = _digest_of_file(layer)
        layer_descriptors.append(_descriptor(LAYER, digest, size))
    config_digest, config_bytes = _blob(
        json.dumps(
            {
                "architecture": arch,
                "os": "linux",
                "config": config.as_json(),
                "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in layer_descriptors]},
            },
            sort_keys=True,
        ).encode()
    )
    manifest_digest, manifest_bytes = _blob(
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": MANIFEST,
                "config": _descriptor(CONFIG, config_digest, len(config_bytes)),
                "layers": layer_descriptors,
            },
            sort_keys=True,
        ).encode()
    )
    index = {
        "schemaVersion": 2,
        "manifests": [
            _descriptor(
                MANIFEST,
                manifest_digest,
                len(manifest_bytes),
                annotations={REF_NAME: name},
            )
        ],
    }
    partial = path.with_name(path.name + ".partial")
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        _add_bytes(tar, "index.json", json.dumps(index).encode())
        for digest, data in ((config_digest, config_bytes), (manifest_digest, manifest_bytes)):
            _add_bytes(tar, f"blobs/sha256/{digest.split(':', 1)[1]}", data)
        for layer, descriptor in zip(layers, layer_descriptors, strict=True):
            tar.add(layer, arcname=f"blobs/sha256/{descriptor['digest'].split(':', 1)[1]}")
    partial.replace(path)
    return manifest_digest


def read_archive(path: Path) -> dict[str, Any]:
    """The index, manifest and config of an archive written by :func:`write_archive`."""
    with tarfile.open(path) as tar:

        def load(name: str) -> Any:
            member = tar.extractfile(name)
            assert member is not None, name
            return json.loads(member.read())

        index = load("index.json")
        manifest = load(f"blobs/sha256/{index['manifests'][0]['digest'].split(':', 1)[1]}")
        config = load(f"blobs/sha256/{manifest['config']['digest'].split(':', 1)[1]}")
    return {"index": index, "manifest": manifest, "config": config}
