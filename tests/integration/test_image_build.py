"""Inside the controller image built without Docker: what the Dockerfile's definition promises.

The archive that the node imports is opened layer by layer: the Debian packages are the
runtime list's (the build-only ones are gone), the virtualenv holds exactly the lock, uid
65532 has its passwd and group entries, the source layer is ``ipam/`` as it is in the
repository, and the image config is the Dockerfile's final stage.
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e import images, oci
from e2e.toolchain import REPO

pytestmark = pytest.mark.node


class Layers:
    """The layers of an OCI archive, as tar files to read members from."""

    def __init__(self, outer: tarfile.TarFile, manifest: dict[str, Any]) -> None:
        self.layers = []
        for descriptor in manifest["layers"]:
            blob = outer.extractfile(f"blobs/sha256/{descriptor['digest'].split(':')[1]}")
            assert blob is not None
            self.layers.append(tarfile.TarFile(fileobj=blob))

    def read(self, layer: int, name: str) -> bytes:
        member = self.layers[layer].extractfile(name)
        assert member is not None, name
        return member.read()

    def names(self, layer: int) -> list[str]:
        return self.layers[layer].getnames()


@pytest.fixture(scope="module")
def archive() -> Path:
    reason = images.unavailable()
    if reason:
        pytest.skip(f"cannot build the image here: {reason}")
    return images.build_controller_image()


@pytest.fixture(scope="module")
def layers(archive: Path) -> Iterator[Layers]:
    with tarfile.open(archive) as outer:
        yield Layers(outer, oci.read_archive(archive)["manifest"])


def installed_packages(layers: Layers) -> set[str]:
    status = layers.read(0, "./var/lib/dpkg/status").decode()
    return {
        block.split("\n", 1)[0].removeprefix("Package: ")
        for block in status.split("\n\n")
        if block.startswith("Package: ") and "Status: install ok installed" in block
    }


def test_the_image_has_the_runtime_packages_and_none_of_the_build_ones(layers: Layers) -> None:
    installed = installed_packages(layers)
    runtime = set(images.read_list(REPO / "image" / "runtime-packages.txt"))
    build = set(images.read_list(REPO / "image" / "build-packages.txt"))
    assert runtime <= installed
    assert not build & installed
    assert not {"python3.11-venv", "python3-pip-whl", "python3-setuptools-whl"} & installed
    assert not {"perl", "usrmerge", "gcc"} & installed, "nothing beyond the slim base"


def test_the_virtualenv_holds_exactly_the_lock(layers: Layers) -> None:
    def key(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    lock = {
        key(name): version
        for name, _, version in (
            line.partition("==") for line in images.read_list(REPO / "image" / "requirements.txt")
        )
    }
    found = {}
    for name in layers.names(0):
        match = re.fullmatch(
            r"\./opt/venv/lib/python3\.\d+/site-packages/([^/]+)-([^-/]+)\.dist-info", name
        )
        if match:
            found[key(match.group(1))] = match.group(2)
    assert found == lock


def test_uid_65532_has_a_passwd_and_a_group_entry(layers: Layers) -> None:
    passwd = layers.read(0, "./etc/passwd").decode().splitlines()
    group = layers.read(0, "./etc/group").decode().splitlines()
    (user,) = [line for line in passwd if line.split(":")[2] == "65532"]
    assert user.split(":")[:4] == ["nonroot", "x", "65532", "65532"]
    assert "nonroot:x:65532:" in group


def test_the_source_layer_is_the_repository_s_ipam_package(layers: Layers) -> None:
    sources = sorted(p for p in (REPO / "ipam").rglob("*.py") if "__pycache__" not in p.parts)
    in_image = {n for n in layers.names(1) if n.endswith(".py")}
    assert in_image == {f"opt/capi-ipam/{p.relative_to(REPO)}" for p in sources}
    for path in sources:
        assert layers.read(1, f"opt/capi-ipam/{path.relative_to(REPO)}") == path.read_bytes()


def test_the_image_config_is_the_dockerfile_s_final_stage(archive: Path) -> None:
    read = oci.read_archive(archive)
    expected = images.final_config((REPO / "Dockerfile").read_text()).as_json()
    assert read["config"]["config"] == expected
    assert read["index"]["manifests"][0]["annotations"][oci.REF_NAME] == images.CONTROLLER_IMAGE
