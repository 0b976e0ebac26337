"""Every error the core can report, and every text a user can read from one, written once.

The tree::

    IPAMError                      message + Ready-condition reason
    ├── InvalidAnnotation          the ipAddress annotation is not an IP
    ├── PreAllocationConflict      preAllocation and annotation disagree
    ├── PreAllocationInvalid       the preAllocation value is not an IP
    ├── PreAllocationOutOfBounds   the preAllocation lies in no pool entry
    ├── PreAllocationTaken         the preAllocation is held by another claim
    ├── RequestedIPOutOfBounds     the annotation IP lies in no pool entry
    ├── RequestedIPNotAvailable    the annotation IP is held or reserved
    ├── PoolExhausted              no free address left (reason PoolExhausted)
    ├── PoolInvalid                every entry of the pool is dropped (reason PoolNotReady)
    ├── InvalidPrefix              the chosen prefix is outside 0..128 (a last guard)
    ├── CreateFailed               creating the IPAddress failed
    ├── GetFailed                  reading the IPAddress failed (release)
    └── DeleteFailed               deleting the IPAddress failed (release)

The texts marked "upstream" are the exact strings Metal3 IPAM writes into
``IPClaim.status.errorMessage`` and the CAPI ``Ready`` condition; clients may match on them.
Field-level validation problems are not exceptions: they are :class:`FieldError` facts,
collected all at once by :mod:`ipam.core.validation`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

ALLOCATION_FAILED = "AllocationFailed"
POOL_EXHAUSTED = "PoolExhausted"
POOL_NOT_READY = "PoolNotReady"
"""Cluster API's Ready reason for a claim whose pool is not ready (for example invalid)."""
LISTED = 3
"""Problems a message lists before it says how many more there are."""


class IPAMError(Exception):
    """Base of the tree: ``message`` is what the user reads, ``reason`` the condition reason."""

    reason: str = ALLOCATION_FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidAnnotation(IPAMError):
    """The claim's ``ipAddress`` annotation does not parse as an IP address (upstream text)."""

    def __init__(self, value: str) -> None:
        super().__init__(f'Invalid ipAddress annotation "{value}": not a valid IP address')
        self.value = value


class PreAllocationConflict(IPAMError):
    """The claim is pre-allocated one IP and its annotation asks for another (upstream text)."""

    def __init__(self) -> None:
        super().__init__("PreAllocation and requested ip address are conflicting")


class PreAllocationInvalid(IPAMError):
    """The pool pre-allocates this claim a value that is not an IP address."""

    def __init__(self, value: str) -> None:
        super().__init__(f'Invalid pre-allocated IP "{value}": not a valid IP address')
        self.value = value


class PreAllocationOutOfBounds(IPAMError):
    """The pre-allocated IP is produced by no entry of the pool (upstream text)."""

    def __init__(self) -> None:
        super().__init__("Pre-allocated IP out of bounds")


class PreAllocationTaken(IPAMError):
    """The pre-allocated IP is already held by a different claim (upstream hands out a twin)."""

    def __init__(self) -> None:
        super().__init__("Pre-allocated IP is held by another claim")


class RequestedIPOutOfBounds(IPAMError):
    """The annotation IP is produced by no entry (upstream misreports "Exhausted IP Pools")."""

    def __init__(self) -> None:
        super().__init__("Requested IP out of bounds")


class RequestedIPNotAvailable(IPAMError):
    """The annotation IP is held by another claim or reserved for one (upstream text)."""

    def __init__(self) -> None:
        super().__init__("Requested IP not available")


class PoolExhausted(IPAMError):
    """No entry of the pool has a free address left (upstream text and reason)."""

    reason = POOL_EXHAUSTED

    def __init__(self) -> None:
        super().__init__("Exhausted IP Pools")


class PoolInvalid(IPAMError):
    """Every entry of the pool has a problem, so it produces no address at all.

    Not "Exhausted IP Pools": that text is for a valid pool whose addresses are all taken.
    """

    reason = POOL_NOT_READY

    def __init__(self, problems: Sequence[FieldError]) -> None:
        listed = "; ".join(f"{p.path}: {p.message}" for p in problems[:LISTED])
        more = f" (and {len(problems) - LISTED} more)" if len(problems) > LISTED else ""
        super().__init__(f"Invalid IP pool, no entry can hand out addresses: {listed}{more}")
        self.problems = tuple(problems)


class InvalidPrefix(IPAMError):
    """The prefix the address would carry is outside 0..128 (upstream text)."""

    def __init__(self) -> None:
        super().__init__("Invalid prefix value, it must be between 0 and 128")


class CreateFailed(IPAMError):
    """The API server refused to create the IPAddress for a reason other than a name clash."""

    def __init__(self) -> None:
        super().__init__("Failed to create associated IPAddress object")


class GetFailed(IPAMError):
    """Reading the IPAddress of a released claim failed (upstream text)."""

    def __init__(self) -> None:
        super().__init__("Failed to get associated IPAddress object")


class DeleteFailed(IPAMError):
    """Deleting the IPAddress of a released claim failed (upstream text)."""

    def __init__(self) -> None:
        super().__init__("Failed to delete associated IPAddress object")


@dataclass(frozen=True)
class FieldError:
    """One invalid field of an object: ``path`` like ``spec.pools[0].end``, and why."""

    path: str
    message: str
