"""A node's host-global names come from its slot; a machine that cannot run one says why."""

from __future__ import annotations

import ipaddress
import itertools
from pathlib import Path

import pytest

from e2e import host
from e2e.toolchain import Tools


def tools(tmp_path: Path) -> Tools:
    return Tools(tmp_path, "v1.36.3", "v3.6.8", "v1.14.2", tmp_path)


def test_no_two_slots_share_a_name_an_address_or_a_subnet() -> None:
    slots = [host.Slot(n) for n in host.SLOTS]
    for attribute in (
        "service_cidr",
        "service_ip",
        "pod_subnet",
        "bridge",
        "network",
        "cgroup_parent",
    ):
        values = [getattr(s, attribute) for s in slots]
        assert len(set(values)) == len(values), attribute
    for a, b in itertools.combinations(slots, 2):
        assert not ipaddress.ip_network(a.pod_subnet).overlaps(ipaddress.ip_network(b.pod_subnet))


def test_a_slot_s_service_ip_is_the_first_address_of_its_service_range() -> None:
    for slot in map(host.Slot, host.SLOTS):
        network = ipaddress.ip_network(slot.service_cidr)
        assert ipaddress.ip_address(slot.service_ip) == network.network_address + 1
        assert not network.overlaps(ipaddress.ip_network("10.0.0.0/24")), "the plain harness's"


def test_bridge_names_fit_the_kernel_s_limit() -> None:
    assert all(len(host.Slot(n).bridge) < 16 for n in host.SLOTS)


def test_a_machine_without_root_is_told_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(host.os, "geteuid", lambda: 1000)
    reason = host.unavailable(tools(tmp_path))
    assert reason is not None
    assert "needs root" in reason


def test_missing_packages_are_named_with_the_command_that_installs_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(host.os, "geteuid", lambda: 0)
    monkeypatch.setattr(
        host.shutil,
        "which",
        lambda program: None if program in ("containerd", "mmdebstrap") else "/usr/bin/" + program,
    )
    reason = host.unavailable(tools(tmp_path))
    assert reason is not None
    assert "containerd" in reason
    assert "mmdebstrap" in reason
    assert "make node-packages" in reason
