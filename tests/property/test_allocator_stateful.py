"""The allocator and its ledger against a plain model that enumerates every address.

The model knows nothing of keys or interval sets: it lists each entry's addresses with the
standard library, one by one, following the enumeration table of Metal3 IPAM (nothing for
an entry the pool drops: bounds of two families, a bound outside its subnet, an IPv4
prefix above 32), and decides each request by the rules written out in the simplest way.
Small pools (a few entries of either family, some near the top of the address space, some
invalid, with preAllocations) keep that enumeration cheap.
"""

from __future__ import annotations

import ipaddress
import random
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from ipam.core import allocate, errors, ledger, pools, status
from tests.hypothesis_budget import examples

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
NAMES = [f"c{i}" for i in range(10)]
CLAIMS = [ledger.ClaimKey(kind, name) for kind in ("metal3", "capi") for name in NAMES]
FAMILIES = {
    4: {"base": "10.0.0.0", "top": "255.255.255.240", "block": 29, "wide": 28},
    6: {
        "base": "fd00::",
        "top": "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0",
        "block": 125,
        "wide": 124,
    },
}


def at(family: int, anchor: str, offset: int) -> str:
    return str(ipaddress.ip_address(FAMILIES[family][anchor]) + offset)


@st.composite
def entries(draw: st.DrawFn, family: int) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            ["range", "subnet", "start-subnet", "start-end-subnet", "top", "end-only", "mixed"]
        )
    )
    spec = FAMILIES[family]
    first = draw(st.integers(0, 40))
    entry: dict[str, Any] = {}
    if kind == "range":
        entry = {
            "start": at(family, "base", first),
            "end": at(family, "base", first + draw(st.integers(-1, 10))),
        }
    elif kind == "subnet":
        entry = {"subnet": f"{at(family, 'base', 8 * draw(st.integers(0, 6)))}/{spec['block']}"}
    elif kind in ("start-subnet", "start-end-subnet"):
        entry = {
            "start": at(family, "base", first),
            "subnet": f"{at(family, 'base', 16 * draw(st.integers(0, 3)))}/{spec['wide']}",
        }
        if kind == "start-end-subnet":
            entry["end"] = at(family, "base", first + draw(st.integers(0, 20)))
    elif kind == "top":
        entry = {"start": at(family, "top", draw(st.integers(0, 15)))}
    elif kind == "mixed":
        entry = {"start": at(family, "base", first), "end": at(10 - family, "base", first)}
    else:
        entry = {"end": at(family, "base", first)}
    if draw(st.booleans()):
        entry["prefix"] = draw(st.sampled_from([24, 28, 33] if family == 4 else [64, 120]))
    return entry


@st.composite
def pool_specs(draw: st.DrawFn) -> tuple[int, dict[str, Any]]:
    family = draw(st.sampled_from([4, 6]))
    spec: dict[str, Any] = {
        "namePrefix": "pfx",
        "allocationStrategy": draw(st.sampled_from(["sequential", "random"])),
        "pools": draw(st.lists(entries(family), min_size=1, max_size=3)),
        "prefix": draw(st.sampled_from([0, 16])),
    }
    # Mostly addresses of the pool (else nothing interesting happens), some outside it.
    inside = sorted({str(ip) for entry in spec["pools"] for ip in produced(entry)})
    candidates = st.integers(0, 60).map(lambda offset: at(family, "base", offset))
    if inside:
        candidates = st.one_of(st.sampled_from(inside), st.sampled_from(inside), candidates)
    names = draw(st.lists(st.sampled_from(NAMES), max_size=3, unique=True))
    chosen = draw(st.lists(candidates, min_size=len(names), max_size=len(names), unique=True))
    spec["preAllocations"] = dict(zip(names, chosen, strict=True))
    return family, spec


def dropped(entry: dict[str, Any]) -> bool:
    """The pool's rules in the plainest words: one family, inside the subnet, a prefix that fits."""
    bounds = [ipaddress.ip_address(entry[key]) for key in ("start", "end") if key in entry]
    subnet = ipaddress.ip_network(entry["subnet"], strict=False) if "subnet" in entry else None
    families = {ip.version for ip in bounds} | ({subnet.version} if subnet else set())
    return (
        len(families) > 1
        or (subnet is not None and any(ip not in subnet for ip in bounds))
        or (families == {4} and entry.get("prefix", 0) > 32)
    )


def produced(entry: dict[str, Any]) -> list[IP]:
    """An entry's addresses, one by one, straight from the enumeration table."""
    if dropped(entry):
        return []
    subnet = ipaddress.ip_network(entry["subnet"], strict=False) if "subnet" in entry else None
    if "start" not in entry:
        return list(subnet)[1:] if subnet is not None else []
    current = ipaddress.ip_address(entry["start"])
    top = ipaddress.ip_address(
        2**current.max_prefixlen - 1 if current.version == 6 else "255.255.255.255"
    )
    last = ipaddress.ip_address(entry["end"]) if "end" in entry else top
    found = []
    while current <= last and (subnet is None or current in subnet):
        found.append(current)
        if current == top:
            break
        current += 1
    return found


def object_name(address: str) -> str:
    return f"pfx-{address.replace('.', '-').replace(':', '-')}".rstrip("-")


# How a request names its address; a few kinds are listed twice to be drawn more often.
request_kinds = [
    "absent",
    "absent",
    "empty",
    "garbage",
    "base",
    "top",
    "member",
    "member",
    "reserved",
    "reserved",
    "reserved",
]
requests = st.tuples(st.sampled_from(request_kinds), st.integers(0, 2**16))


class AllocatorAgainstAModel(RuleBasedStateMachine):
    @initialize(drawn=pool_specs())
    def create_pool(self, drawn: tuple[int, dict[str, Any]]) -> None:
        self.family, spec = drawn
        self.spec = spec
        self.pool = pools.Pool.from_spec(spec)
        self.book = ledger.Ledger()
        self.entries = [produced(entry) for entry in spec["pools"]]
        self.owner: dict[str, int] = {}
        for index, found in enumerate(self.entries):
            for ip in found:
                self.owner.setdefault(str(ip), index)
        self.pre = dict(spec["preAllocations"])
        self.held: dict[ledger.ClaimKey, str] = {}
        self.deleting = False
        self.granted_while_deleting: set[str] = set()

    # -- the model's decision ----------------------------------------------------------------

    def expect(self, claim: ledger.ClaimKey, requested: str | None) -> Any:
        if claim in self.held:
            return ("rebind", {self.held[claim]})
        if not any(self.entries):
            return errors.PoolInvalid
        wanted = None
        if requested:
            try:
                wanted = str(ipaddress.ip_address(requested))
            except ValueError:
                return errors.InvalidAnnotation
        holders = {address: c for c, address in self.held.items()}
        if claim.name in self.pre:
            pre = self.pre[claim.name]
            if wanted is not None and wanted != pre:
                return errors.PreAllocationConflict
            if pre not in self.owner:
                return errors.PreAllocationOutOfBounds
            if holders.get(pre, claim) != claim:
                return errors.PreAllocationTaken
            return ("grant", {pre})
        reserved = set() if self.deleting else set(self.pre.values())
        if wanted is not None:
            if wanted not in self.owner:
                return errors.RequestedIPOutOfBounds
            if wanted in holders or wanted in reserved:
                return errors.RequestedIPNotAvailable
            return ("grant", {wanted})
        for found in self.entries:
            free = [str(ip) for ip in found if str(ip) not in holders and str(ip) not in reserved]
            if free:
                return ("grant", set(free) if self.pool.strategy == "random" else {free[0]})
        return errors.PoolExhausted

    def expected_prefix(self, address: str) -> int:
        entry = self.spec["pools"][self.owner[address]]
        return int(entry.get("prefix") or self.spec["prefix"])

    # -- rules -------------------------------------------------------------------------------

    @rule(claim=st.sampled_from(CLAIMS), raw=requests, seed=st.integers(0, 2**32))
    def request_an_address(self, claim: ledger.ClaimKey, raw: tuple[str, int], seed: int) -> None:
        requested = self.requested(raw)
        expected = self.expect(claim, requested)
        request = allocate.ClaimRequest(claim, requested)
        outcome = self.attempt(request, seed)
        if isinstance(outcome, errors.IPAMError):
            assert type(outcome) is expected, (outcome, expected)
            return
        got = outcome
        assert isinstance(expected, tuple), (got, expected)
        verdict, allowed = expected
        address = got.details.address
        assert address in allowed
        assert got.rebound == (verdict == "rebind")
        if verdict == "rebind":
            return
        assert address not in self.held.values(), "never the same address twice"
        assert address in self.owner, "always inside the pool"
        assert got.object_name == object_name(address)
        assert got.details.prefix == self.expected_prefix(address)
        self.book.add(ledger.Holding(address, claim, got.object_name))
        self.held[claim] = address
        if self.deleting:
            self.granted_while_deleting.add(address)

    def requested(self, raw: tuple[str, int]) -> str | None:
        kind, index = raw
        if kind in ("absent", "empty", "garbage"):
            return {"absent": None, "empty": "", "garbage": "not-an-ip"}[kind]
        if kind in ("base", "top"):
            return at(self.family, kind, index % (61 if kind == "base" else 16))
        choices = sorted(self.owner if kind == "member" else set(self.pre.values()))
        return choices[index % len(choices)] if choices else None

    def attempt(
        self, request: allocate.ClaimRequest, seed: int
    ) -> allocate.Allocation | errors.IPAMError:
        try:
            return allocate.allocate(
                self.pool, self.book, request, rng=random.Random(seed), deleting=self.deleting
            )
        except errors.IPAMError as error:
            return error

    @rule(claim=st.sampled_from(CLAIMS))
    def release_a_claim(self, claim: ledger.ClaimKey) -> None:
        allocate.release(self.book, claim)
        self.granted_while_deleting.discard(self.held.pop(claim, ""))

    @rule()
    def start_or_stop_deleting_the_pool(self) -> None:
        self.deleting = not self.deleting

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def ledger_matches_the_model(self) -> None:
        assert self.book.used == len(self.held)
        assert self.book.conflicts() == []
        for claim, address in self.held.items():
            holding = self.book.held_by(claim)
            assert holding is not None
            assert holding.address == address

    @invariant()
    def pre_allocated_addresses_never_go_to_another_claim_name(self) -> None:
        # ... unless the pool was being deleted when the address was granted.
        for claim, address in self.held.items():
            owners = {name for name, pre in self.pre.items() if pre == address}
            assert not owners or claim.name in owners or address in self.granted_while_deleting

    @invariant()
    def counters_add_up(self) -> None:
        projected = status.pool_status(
            self.pool, self.book, {}, now="n", creation="c", deleting=self.deleting
        )
        members = set(self.owner)
        unavailable = set(self.held.values()) | (set() if self.deleting else set(self.pre.values()))
        assert projected["total"] == len(members) == self.pool.total
        assert projected["used"] == len(unavailable & members)
        assert projected["used"] + projected["free"] == projected["total"]
        assert projected["indexes"] == {
            claim.name: address
            for claim, address in sorted(
                self.held.items(), key=lambda item: item[0].kind != "metal3"
            )
        }


AllocatorAgainstAModel.TestCase.settings = settings(
    max_examples=examples(120), stateful_step_count=30, deadline=None
)
TestAllocatorAgainstAModel = AllocatorAgainstAModel.TestCase
