"""The controller image has one definition: the Dockerfile and image/, read by both builds.

The Docker-free build (e2e/images.py) installs what :data:`e2e.images.PLAN` says; these
tests hold that equal to what the Dockerfile installs, and show that the comparison
notices each kind of drift. tests/integration/test_image_build.py looks inside the
image actually built.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
import tarfile
import tomllib
from pathlib import Path

import pytest

from e2e import images, oci

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "Dockerfile").read_text()


def test_the_dockerfile_installs_exactly_what_the_docker_free_build_installs() -> None:
    assert images.plan_differences(images.dockerfile_plan(DOCKERFILE), images.PLAN) == []


@pytest.mark.parametrize(
    ("original", "changed", "complaint"),
    [
        pytest.param(
            "| xargs apt-get install -y --no-install-recommends \\\n && rm -rf /var/lib/apt/lists/* \\\n && sh /image/user.sh",
            "| xargs apt-get install -y --no-install-recommends curl \\\n && rm -rf /var/lib/apt/lists/* \\\n && sh /image/user.sh",
            "packages named in the Dockerfile: ('curl',)",
            id="a package added in the Dockerfile only",
        ),
        pytest.param(
            "/image/runtime-packages.txt /image/build-packages.txt",
            "/image/runtime-packages.txt",
            "build stage: Debian lists",
            id="a package list dropped from one build",
        ),
        pytest.param(
            "RUN sh /image/venv.sh /image/requirements.txt",
            "RUN sh /image/venv.sh /image/requirements.txt && /opt/venv/bin/pip install requests",
            "packages named in the Dockerfile: ('requests',)",
            id="a Python package installed outside the lock",
        ),
        pytest.param(
            "COPY image/requirements.txt image/venv.sh /image/",
            "COPY image/other-lock.txt image/venv.sh /image/\nCOPY image/other-lock.txt /image/requirements.txt",
            "scripts",
            id="another lock behind the same name",
        ),
        pytest.param(
            "COPY ipam/ /opt/capi-ipam/ipam/",
            "COPY ipam/ /app/ipam/",
            "sources",
            id="the source copied elsewhere",
        ),
    ],
)
def test_the_comparison_reports_each_kind_of_drift(
    original: str, changed: str, complaint: str
) -> None:
    assert original in DOCKERFILE
    drifted = images.dockerfile_plan(DOCKERFILE.replace(original, changed))
    problems = images.plan_differences(drifted, images.PLAN)
    assert any(complaint in p for p in problems), problems


def test_the_dockerfile_has_a_build_stage_and_a_final_stage_from_the_same_debian() -> None:
    build, final = images.parse_dockerfile(DOCKERFILE)
    assert build.name == "build"
    assert build.base == final.base == "debian:bookworm-slim"
    assert images.SUITE in final.base, "the Docker-free build uses the same suite"


def test_the_image_runs_the_controller_as_uid_65532_without_a_shell() -> None:
    config = images.final_config(DOCKERFILE)
    assert config.user == "65532:65532"
    assert list(config.entrypoint) == ["python", "-m", "ipam"], "exec form: no /bin/sh -c"
    assert list(config.cmd) == ["run", "--all-namespaces"]
    assert config.env["PATH"].startswith("/opt/venv/bin:"), "python is the virtualenv's"
    assert config.env["PYTHONPATH"] == "/opt/capi-ipam"
    assert config.env["PYTHONDONTWRITEBYTECODE"] == "1", "the root filesystem is read-only"


def test_the_user_script_adds_uid_65532_to_passwd_and_group() -> None:
    script = (REPO / "image" / "user.sh").read_text()
    assert re.search(r"groupadd --gid 65532 nonroot", script)
    assert re.search(r"useradd --uid 65532 --gid 65532", script)


def _lock() -> dict[str, str]:
    pins = {}
    for line in images.read_list(REPO / "image" / "requirements.txt"):
        name, _, version = line.partition("==")
        assert version, f"not pinned: {line}"
        pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_the_lock_pins_every_dependency_of_pyproject_at_its_version() -> None:
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    lock = _lock()
    for requirement in dependencies:
        name, _, version = requirement.partition("==")
        assert lock.get(re.sub(r"[-_.]+", "-", name).lower()) == version, requirement


def test_the_image_gets_the_versions_the_tests_run_against() -> None:
    for name, version in _lock().items():
        installed = importlib.metadata.version(name)
        assert installed == version, (
            f"{name} {installed} here, {version} in the image: make venv installs under the "
            "lock's constraints; make image-lock re-resolves the lock"
        )


def test_the_docker_context_holds_only_what_the_dockerfile_copies() -> None:
    lines = images.read_list(REPO / ".dockerignore")
    assert lines[0] == "*"
    assert set(lines[1:]) == {"!image/", "!ipam/", "**/__pycache__"}


def test_an_oci_archive_holds_its_layers_config_and_name(tmp_path: Path) -> None:
    layer = tmp_path / "layer.tar"
    payload = tmp_path / "hello"
    payload.write_text("hello\n")
    with tarfile.open(layer, "w") as tar:
        tar.add(payload, arcname="hello")
    archive = tmp_path / "image.oci.tar"
    config = oci.ImageConfig(entrypoint=["/hello"], env={"A": "1"}, user="65532:65532")
    digest = oci.write_archive(archive, name="localhost/test:1", layers=[layer], config=config)
    read = oci.read_archive(archive)
    layer_digest = f"sha256:{hashlib.sha256(layer.read_bytes()).hexdigest()}"
    assert read["index"]["manifests"][0]["digest"] == digest
    assert read["index"]["manifests"][0]["annotations"] == {oci.REF_NAME: "localhost/test:1"}
    assert [d["digest"] for d in read["manifest"]["layers"]] == [layer_digest]
    assert read["config"]["rootfs"]["diff_ids"] == [layer_digest]
    assert read["config"]["config"] == {
        "Entrypoint": ["/hello"],
        "Env": ["A=1"],
        "User": "65532:65532",
    }
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        assert f"blobs/sha256/{layer_digest.split(':')[1]}" in names
        member = tar.extractfile("oci-layout")
        assert member is not None
        assert json.loads(member.read()) == {"imageLayoutVersion": "1.0.0"}
        for name in names - {"oci-layout", "index.json"}:
            blob = tar.extractfile(name)
            assert blob is not None
            assert hashlib.sha256(blob.read()).hexdigest() == name.rsplit("/", 1)[1], name


@pytest.fixture
def repo_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of what the image is made of, which the image module then reads."""
    import shutil

    for name in ("Dockerfile", "pyproject.toml"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "image", tmp_path / "image")
    (tmp_path / "ipam").mkdir()
    (tmp_path / "ipam" / "__init__.py").write_text('"""ipam."""\n')
    monkeypatch.setattr(images, "REPO", tmp_path)
    monkeypatch.setattr(images, "DOCKERFILE", tmp_path / "Dockerfile")
    monkeypatch.setattr(images, "IMAGE_DIR", tmp_path / "image")
    return tmp_path


@pytest.mark.parametrize(
    ("path", "edit", "base_changes", "source_changes"),
    [
        pytest.param("image/runtime-packages.txt", "\ncurl\n", True, False, id="package list"),
        pytest.param("image/requirements.txt", "\nrequests==2.0\n", True, False, id="lock"),
        pytest.param("Dockerfile", "\nLABEL a=b\n", True, False, id="Dockerfile"),
        pytest.param("ipam/__init__.py", "\nX = 1\n", False, True, id="the controller's source"),
        pytest.param(
            "pyproject.toml",
            "\n[tool.extra]\nkey = 1\n",
            False,
            False,
            id="pyproject.toml outside the dependencies",
        ),
    ],
)
def test_the_cache_key_follows_what_goes_into_the_image(
    repo_copy: Path, path: str, edit: str, base_changes: bool, source_changes: bool
) -> None:
    before = (images.base_key(), images.source_key(), images.controller_key())
    with (repo_copy / path).open("a") as f:
        f.write(edit)
    after = (images.base_key(), images.source_key(), images.controller_key())
    assert (before[0] != after[0], before[1] != after[1]) == (base_changes, source_changes)
    assert (before[2] != after[2]) == (base_changes or source_changes)


def test_a_new_dependency_in_pyproject_changes_the_base_key(repo_copy: Path) -> None:
    before = images.base_key()
    text = (repo_copy / "pyproject.toml").read_text()
    (repo_copy / "pyproject.toml").write_text(
        text.replace("dependencies = [\n", 'dependencies = [\n    "requests==2.0",\n', 1)
    )
    assert images.base_key() != before
