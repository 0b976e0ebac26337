"""Container images for a harness node, built without Docker or a registry, cached by content.

The controller image is the ``Dockerfile`` at the root, built another way: mmdebstrap
makes the Debian root filesystem (the ``minbase`` variant is what ``debian:*-slim`` holds)
with the same package lists and runs the same scripts of ``image/`` as the Dockerfile's
stages; the controller's source is a second layer; the environment, user and entrypoint
are read from the Dockerfile's final stage. :func:`dockerfile_plan` reads what the
Dockerfile installs and :data:`PLAN` is what this builder installs: a test holds them equal.

Everything is cached under ``~/.cache/capi-ipam/images`` by a hash of what goes into it:
the base layer by the Dockerfile, ``image/`` and ``pyproject.toml``; the source layer by
``ipam/``. The pause program of pod sandboxes is compiled from ``e2e/node_assets/pause.c``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from e2e import oci
from e2e.toolchain import REPO

DOCKERFILE = REPO / "Dockerfile"
IMAGE_DIR = REPO / "image"
PAUSE_SOURCE = REPO / "e2e" / "node_assets" / "pause.c"
SUITE = "bookworm"
CONTROLLER_IMAGE = "docker.io/library/capi-ipam:dev"
"""``capi-ipam:dev`` of config/manager/deployment.yaml, as the CRI normalises it."""
PAUSE_IMAGE = "localhost/capi-ipam/pause:1"
CHROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MERGED_USR_HOOKS = "/usr/share/mmdebstrap/hooks/merged-usr"
# The final stage's package set: the minbase set (Essential, Priority required, apt) and
# the runtime list with what they depend on, as a fresh image of that list would hold. The
# build-only packages and their dependencies go (without Recommends, as they came in).
KEEP_ONLY = (
    "apt-mark auto $(dpkg-query -W -f '${{Package}}\\n') >/dev/null"
    " && apt-mark manual apt {keep} $(dpkg-query -W -f '${{Package}} ${{Essential}} ${{Priority}}\\n'"
    ' | awk \'$2 == "yes" || $3 == "required" {{print $1}}\') >/dev/null'
    " && apt-get autoremove --purge -y -q -o APT::AutoRemove::RecommendsImportant=false"
    " -o APT::AutoRemove::SuggestsImportant=false"
)
# What debian:*-slim leaves out of every package.
SLIM_EXCLUDES = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*")


class ImageError(RuntimeError):
    """An image could not be built; the message says which step and why."""


def cache_dir() -> Path:
    base = os.environ.get("IPAM_IMAGES_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "capi-ipam" / "images"
    )
    return Path(base)


def _say(message: str) -> None:
    print(f"[images] {message}", file=sys.stderr, flush=True)


# --- what the Dockerfile installs ---------------------------------------------------------


@dataclass(frozen=True)
class StagePlan:
    """What one stage installs: package lists and scripts by repository path."""

    debian_lists: tuple[str, ...] = ()
    scripts: tuple[tuple[str, ...], ...] = ()
    inline: tuple[str, ...] = ()
    """Packages named in the Dockerfile itself (apt-get or pip): never allowed."""


@dataclass(frozen=True)
class Plan:
    build: StagePlan
    final: StagePlan
    copies_from_build: tuple[str, ...]
    sources: tuple[tuple[str, str], ...]
    """(repository path, image path) copied into the final stage from the context."""


PLAN = Plan(
    build=StagePlan(
        debian_lists=("image/runtime-packages.txt", "image/build-packages.txt"),
        scripts=(("image/venv.sh", "image/requirements.txt"),),
    ),
    final=StagePlan(
        debian_lists=("image/runtime-packages.txt",),
        scripts=(("image/user.sh",),),
    ),
    copies_from_build=("/opt/venv",),
    sources=(("ipam/", "/opt/capi-ipam/ipam/"),),
)
"""What :func:`build_controller_image` installs, stage by stage."""


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse_dockerfile(text: str) -> list[Stage]:
    """Stages with their instructions (keyword upper-cased, continuation lines joined)."""
    stages: list[Stage] = []
    args: dict[str, str] = {}
    logical = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    for line in logical.splitlines():
        if not line.strip():
            continue
        keyword, _, rest = line.strip().partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), words[0])
            name = words[2] if len(words) > 2 and words[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(name, base))
        elif stages:
            stages[-1].instructions.append((keyword, rest))
    return stages


def _copied_paths(stage: Stage) -> dict[str, str]:
    """Image path -> repository path of every file a stage COPYs from the context."""
    found: dict[str, str] = {}
    for keyword, rest in stage.instructions:
        if keyword != "COPY" or rest.startswith("--from"):
            continue
        *sources, dest = rest.split()
        for source in sources:
            # A file copied into a directory keeps its name; a directory's content lands in dest.
            file_into_dir = dest.endswith("/") and not source.endswith("/")
            found[dest + Path(source).name if file_into_dir else dest] = source
    return found


def _stage_plan(stage: Stage) -> StagePlan:
    copied = _copied_paths(stage)
    lists: list[str] = []
    scripts: list[tuple[str, ...]] = []
    inline: list[str] = []
    for keyword, rest in stage.instructions:
        if keyword != "RUN":
            continue
        for command in re.split(r"&&|;", rest):
            words = shlex.split(command.replace("|", " | "))
            if not words:
                continue
            if "apt-get" in words and "install" in words:
                pipe = words.index("|") if "|" in words else None
                if pipe is not None and words[0] == "grep":
                    lists.extend(copied.get(w, w) for w in words[1:pipe] if w.startswith("/"))
                after = words[words.index("install") + 1 :]
                inline.extend(w for w in after if not w.startswith("-"))
            elif any(Path(w).name in ("pip", "pip3") for w in words) and "install" in words:
                inline.extend(w for w in words[words.index("install") + 1 :] if w[0] != "-")
            elif words[0] == "sh" and len(words) > 1:
                scripts.append(tuple(copied.get(w, w) for w in words[1:]))
    return StagePlan(tuple(lists), tuple(scripts), tuple(inline))


def dockerfile_plan(text: str) -> Plan:
    """What a Dockerfile of this project's shape installs (two stages: build, final)."""
    stages = parse_dockerfile(text)
    if len(stages) != 2:
        raise ImageError(f"expected a build stage and a final stage, found {len(stages)}")
    build, final = stages
    copies = tuple(
        rest.split()[1]
        for keyword, rest in final.instructions
        if keyword == "COPY" and rest.startswith(f"--from={build.name}")
    )
    sources = tuple(
        (source, dest)
        for dest, source in _copied_paths(final).items()
        if not source.startswith("image/")
    )
    return Plan(_stage_plan(build), _stage_plan(final), copies, sources)


def plan_differences(dockerfile: Plan, builder: Plan) -> list[str]:
    """Each way the two plans differ, in words; empty when they install the same."""
    problems = []
    for stage in ("build", "final"):
        mine, theirs = getattr(builder, stage), getattr(dockerfile, stage)
        if theirs.inline:
            problems.append(f"{stage} stage: packages named in the Dockerfile: {theirs.inline}")
        if sorted(mine.debian_lists) != sorted(theirs.debian_lists):
            problems.append(
                f"{stage} stage: Debian lists {theirs.debian_lists} in the Dockerfile, "
                f"{mine.debian_lists} here"
            )
        if mine.scripts != theirs.scripts:
            problems.append(f"{stage} stage: scripts {theirs.scripts} vs {mine.scripts} here")
    if dockerfile.copies_from_build != builder.copies_from_build:
        problems.append(f"copied from build: {dockerfile.copies_from_build}")
    if dockerfile.sources != builder.sources:
        problems.append(f"sources: {dockerfile.sources} vs {builder.sources} here")
    return problems


def final_config(text: str) -> oci.ImageConfig:
    """ENV, USER, WORKDIR, ENTRYPOINT and CMD of the final stage, as the image config."""
    env: dict[str, str] = {}
    values: dict[str, str] = {}
    exec_form: dict[str, list[str]] = {}
    for keyword, rest in parse_dockerfile(text)[-1].instructions:
        if keyword == "ENV":
            for word in shlex.split(rest):
                name, _, value = word.partition("=")
                env[name] = value
        elif keyword in ("USER", "WORKDIR"):
            values[keyword] = rest
        elif keyword in ("ENTRYPOINT", "CMD"):
            exec_form[keyword] = json.loads(rest)
    return oci.ImageConfig(
        entrypoint=exec_form.get("ENTRYPOINT", []),
        cmd=exec_form.get("CMD", []),
        env=env,
        user=values.get("USER", ""),
        working_dir=values.get("WORKDIR", ""),
    )


def read_list(path: Path) -> list[str]:
    """Non-comment lines of a package list or lock."""
    return [
        line.strip()
        for line in path.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


# --- content hashes -------------------------------------------------------------------------


def _hash_files(paths: Iterable[Path], extra: str = "") -> str:
    sha = hashlib.sha256(extra.encode())
    for path in sorted(paths):
        sha.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.hexdigest()[:16]


def _source_files() -> list[Path]:
    return [p for p in (REPO / "ipam").rglob("*.py") if "__pycache__" not in p.parts]


def base_key() -> str:
    """What the base layer is made of: the definition's files, pyproject.toml's dependencies
    (only those: a new marker or dev tool must not cost a rebuild), the mmdebstrap call."""
    import tomllib

    inputs = [DOCKERFILE, *IMAGE_DIR.iterdir()]
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    call = " ".join(mmdebstrap_argv(Path("/"))).replace(str(REPO), "")
    return _hash_files(inputs, extra=f"{project['dependencies']} {call}")


def source_key() -> str:
    return _hash_files(_source_files())


def controller_key() -> str:
    return hashlib.sha256(f"{base_key()} {source_key()}".encode()).hexdigest()[:16]


# --- building --------------------------------------------------------------------------------


def _run(argv: Sequence[str], what: str, log: Path) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise ImageError(f"{what} failed (exit {proc.returncode}, log {log}):\n{tail}")


def _host_ca_bundle() -> Path | None:
    for candidate in (
        os.environ.get("PIP_CERT"),
        os.environ.get("SSL_CERT_FILE"),
        "/etc/ssl/certs/ca-certificates.crt",
    ):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def _chroot(command: str, env: dict[str, str] | None = None) -> str:
    """A customize hook running ``command`` in the new root with a clean environment."""
    pairs = " ".join(
        f"{k}={shlex.quote(v)}" for k, v in {"PATH": CHROOT_PATH, **(env or {})}.items()
    )
    return f'chroot "$1" env -i {pairs} {command}'


def mmdebstrap_argv(output: Path) -> list[str]:
    """The one mmdebstrap call that makes the base layer, following :data:`PLAN`."""
    build_lists = [REPO / p for p in PLAN.build.debian_lists]
    final_lists = [REPO / p for p in PLAN.final.debian_lists]
    everything = sorted({pkg for path in build_lists for pkg in read_list(path)})
    inputs = sorted(
        {REPO / part for script in (*PLAN.build.scripts, *PLAN.final.scripts) for part in script}
    )
    ca = _host_ca_bundle()
    pip_env = {"PIP_CERT": "/image/ca.crt", "SSL_CERT_FILE": "/image/ca.crt"} if ca else {}
    argv = [
        "mmdebstrap",
        "--variant=minbase",
        "--mode=root",
        f"--include={','.join(everything)}",
        "--skip=output/dev",
        # merged /usr as in debian images, without the usrmerge package and its perl
        f"--hook-dir={MERGED_USR_HOOKS}",
        *[f"--dpkgopt=path-exclude={pattern}" for pattern in SLIM_EXCLUDES],
        '--customize-hook=mkdir -p "$1/image"',
        f"--customize-hook=copy-in {' '.join(str(p) for p in inputs)} /image",
    ]
    if ca:
        argv.append(f"--customize-hook=upload {ca} /image/ca.crt")
    for script, *script_args in PLAN.build.scripts:
        call = " ".join(
            ["sh", f"/image/{Path(script).name}", *[f"/image/{Path(a).name}" for a in script_args]]
        )
        argv.append(f"--customize-hook={_chroot(call, pip_env)}")
    keep = " ".join(sorted({pkg for path in final_lists for pkg in read_list(path)}))
    argv.append(f"--customize-hook={_chroot(f'sh -c {shlex.quote(KEEP_ONLY.format(keep=keep))}')}")
    for script, *script_args in PLAN.final.scripts:
        call = " ".join(
            ["sh", f"/image/{Path(script).name}", *[f"/image/{Path(a).name}" for a in script_args]]
        )
        argv.append(f"--customize-hook={_chroot(call)}")
    argv += ['--customize-hook=rm -rf "$1/image"', SUITE, str(output)]
    return argv


def _base_layer(cache: Path) -> Path:
    layer = cache / f"base-{base_key()}.tar"
    if layer.exists():
        return layer
    _say(f"building the base layer with mmdebstrap ({SUITE}, image/) ...")
    started = time.monotonic()
    partial = layer.with_name(layer.name + ".partial.tar")
    partial.unlink(missing_ok=True)
    _run(mmdebstrap_argv(partial), "mmdebstrap", cache / "logs" / "base.log")
    partial.replace(layer)
    _say(f"base layer built in {time.monotonic() - started:.0f}s: {layer}")
    return layer


def _tar_info(
    name: str, *, directory: bool = False, size: int = 0, mode: int = 0o644
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.mode = 0o755 if directory else mode
    info.size = size
    info.mtime = 0
    return info


def _source_layer(cache: Path) -> Path:
    layer = cache / f"source-{source_key()}.tar"
    if layer.exists():
        return layer
    ((source, dest),) = PLAN.sources
    root = REPO / source
    partial = layer.with_name(layer.name + ".partial")
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        parts = Path(dest.strip("/")).parts
        for depth in range(1, len(parts) + 1):
            tar.addfile(_tar_info("/".join(parts[:depth]), directory=True))
        dirs = sorted({p.parent for p in _source_files()} - {root})
        for directory in dirs:
            tar.addfile(
                _tar_info(f"{dest.strip('/')}/{directory.relative_to(root)}", directory=True)
            )
        for path in sorted(_source_files()):
            data = path.read_bytes()
            info = _tar_info(f"{dest.strip('/')}/{path.relative_to(root)}", size=len(data))
            with path.open("rb") as f:
                tar.addfile(info, f)
    partial.replace(layer)
    return layer


def _prune(cache: Path, prefix: str, keep: Path) -> None:
    """Drop older cache entries of one kind (every key but the one in use)."""
    for old in cache.glob(f"{prefix}-*"):
        if old != keep and old.is_file() and ".partial" not in old.name:
            old.unlink(missing_ok=True)


@contextlib.contextmanager
def _locked(cache: Path) -> Iterator[None]:
    """One build at a time per cache: a second caller waits, then finds the result cached."""
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def build_controller_image() -> Path:
    """The controller image's OCI archive, built (or found in the cache) and returned."""
    cache = cache_dir()
    archive = cache / f"capi-ipam-{controller_key()}.oci.tar"
    if archive.exists():
        return archive
    with _locked(cache):
        return _build_controller_image(cache, archive)


def _build_controller_image(cache: Path, archive: Path) -> Path:
    if archive.exists():
        return archive
    base = _base_layer(cache)
    source = _source_layer(cache)
    oci.write_archive(
        archive,
        name=CONTROLLER_IMAGE,
        layers=[base, source],
        config=final_config(DOCKERFILE.read_text()),
    )
    for prefix, keep in (("base", base), ("source", source), ("capi-ipam", archive)):
        _prune(cache, prefix, keep)
    return archive


def build_pause_image() -> Path:
    """The sandbox image: a static C program that waits and reaps (about 300 KB)."""
    cache = cache_dir()
    key = _hash_files([PAUSE_SOURCE])
    archive = cache / f"pause-{key}.oci.tar"
    if archive.exists():
        return archive
    with _locked(cache):
        return _build_pause_image(cache, key, archive)


def _build_pause_image(cache: Path, key: str, archive: Path) -> Path:
    if archive.exists():
        return archive
    if not shutil.which("gcc"):
        raise ImageError("gcc is not installed (apt-get install gcc libc6-dev)")
    program = cache / f"pause-{key}.bin"
    _run(
        ["gcc", "-Os", "-static", "-s", "-o", str(program), str(PAUSE_SOURCE)],
        "gcc (static pause program; needs libc6-dev)",
        cache / "logs" / "pause.log",
    )
    layer = cache / f"pause-{key}.layer.tar"
    with tarfile.open(layer, "w", format=tarfile.PAX_FORMAT) as tar:
        data = program.read_bytes()
        with program.open("rb") as f:
            tar.addfile(_tar_info("pause", size=len(data), mode=0o755), f)
    oci.write_archive(
        archive, name=PAUSE_IMAGE, layers=[layer], config=oci.ImageConfig(entrypoint=["/pause"])
    )
    program.unlink()
    layer.unlink()
    _prune(cache, "pause", archive)
    return archive


def lock() -> str:
    """The requirements lock for pyproject.toml's dependencies, as pip resolves them today."""
    import tomllib

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    report = cache_dir() / "lock-report.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_FIND_LINKS")}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--report",
            str(report),
            *deps,
        ],
        check=True,
        env=env,
    )
    installs = json.loads(report.read_text())["install"]
    lines = sorted(
        (f"{i['metadata']['name']}=={i['metadata']['version']}" for i in installs), key=str.lower
    )
    header = read_header(IMAGE_DIR / "requirements.txt")
    return header + "\n".join(lines) + "\n"


def read_header(path: Path) -> str:
    text = path.read_text() if path.exists() else ""
    return "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Build the node's images without Docker.")
    parser.add_argument("what", choices=["controller", "pause", "lock"])
    args = parser.parse_args(argv)
    if args.what == "lock":
        (IMAGE_DIR / "requirements.txt").write_text(lock())
        return 0
    started = time.monotonic()
    path = build_controller_image() if args.what == "controller" else build_pause_image()
    _say(f"{path} ({path.stat().st_size / 1e6:.0f} MB, {time.monotonic() - started:.1f}s)")
    print(path)
    return 0


def unavailable() -> str | None:
    """Why this machine cannot build the images without Docker (None when it can)."""
    if os.geteuid() != 0:
        return "mmdebstrap's root mode needs root"
    missing = [p for p in ("mmdebstrap", "gcc") if not shutil.which(p)]
    if missing:
        return f"not installed: {' '.join(missing)} (make node-packages)"
    return None


if __name__ == "__main__":
    sys.exit(main())
