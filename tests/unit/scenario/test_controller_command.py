"""The command line a harness controller runs: its namespaces, its Lease, a test's own flags.

No process is started here; ``tests/integration`` and the scenarios start real ones.
"""

from __future__ import annotations

from pathlib import Path

from e2e.cluster import Cluster
from e2e.controller import ControllerRunner


def runner(tmp_path: Path, **kwargs: object) -> ControllerRunner:
    return ControllerRunner(Cluster("source", tmp_path / "kubeconfig"), tmp_path, **kwargs)  # type: ignore[arg-type]


def flags(argv: list[str]) -> list[str]:
    return argv[argv.index("run") + 1 :]


def test_without_namespaces_it_serves_every_namespace_on_the_default_lease(tmp_path: Path) -> None:
    found = flags(runner(tmp_path).argv)

    assert "--all-namespaces" in found
    assert not [f for f in found if f.startswith(("--namespace", "--leader-election-id"))]


def test_a_tests_controller_serves_only_its_namespaces_and_elects_on_its_own_lease(
    tmp_path: Path,
) -> None:
    namespaces = ["t-a-1"]
    one = runner(tmp_path, namespaces=namespaces, lease_name="ipam-t-a-1")
    namespaces.append("t-a-2")  # added before the first start: served too

    found = flags(one.argv)

    assert found[:3] == [
        "--namespace=t-a-1",
        "--namespace=t-a-2",
        "--leader-election-id=ipam-t-a-1",
    ]
    assert "--all-namespaces" not in found
    assert f"--health-port={one.health_port}" in found


def test_args_are_added_and_kept_for_later_starts_until_replaced(tmp_path: Path) -> None:
    one = runner(tmp_path, namespaces=["t-a"], lease_name="ipam-t-a")
    one.extra_args = ["--no-leader-election", "--rebind-grace=2"]

    assert flags(one.argv)[-2:] == ["--no-leader-election", "--rebind-grace=2"]


def test_a_tests_own_scope_and_lease_flags_win_over_the_harness_defaults(tmp_path: Path) -> None:
    one = runner(tmp_path, namespaces=["t-a"], lease_name="ipam-t-a")
    one.extra_args = ["--all-namespaces", "--leader-election-id=shared"]

    found = flags(one.argv)

    assert found.count("--all-namespaces") == 1
    assert not [f for f in found if f.startswith("--namespace")]
    assert [f for f in found if f.startswith("--leader-election-id")] == [
        "--leader-election-id=shared"
    ]


def test_a_runner_that_never_started_is_not_ready(tmp_path: Path) -> None:
    ready, detail = runner(tmp_path).readiness()

    assert not ready
    assert detail.startswith("/readyz: ")
