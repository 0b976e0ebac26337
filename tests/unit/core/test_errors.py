"""The error tree: exact user-visible texts and condition reasons."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from ipam.core import errors

# Each error is built by a factory while the test runs, not when the module is collected:
# a mutation tool that switches a mutant on per test must see the construction.
CATALOGUE = [
    pytest.param(
        lambda: errors.InvalidAnnotation("10.0.0.300"),
        'Invalid ipAddress annotation "10.0.0.300": not a valid IP address',
        "AllocationFailed",
        id="invalid-annotation",
    ),
    pytest.param(
        lambda: errors.PreAllocationConflict(),
        "PreAllocation and requested ip address are conflicting",
        "AllocationFailed",
        id="pre-allocation-conflict",
    ),
    pytest.param(
        lambda: errors.PreAllocationInvalid("x"),
        'Invalid pre-allocated IP "x": not a valid IP address',
        "AllocationFailed",
        id="pre-allocation-invalid",
    ),
    pytest.param(
        lambda: errors.RequestedIPNotAvailable(),
        "Requested IP not available",
        "AllocationFailed",
        id="requested-ip-not-available",
    ),
    pytest.param(
        lambda: errors.PreAllocationOutOfBounds(),
        "Pre-allocated IP out of bounds",
        "AllocationFailed",
        id="pre-allocation-out-of-bounds",
    ),
    pytest.param(
        lambda: errors.PoolExhausted(), "Exhausted IP Pools", "PoolExhausted", id="pool-exhausted"
    ),
    pytest.param(
        lambda: errors.PoolInvalid(
            [errors.FieldError("spec.pools[0].end", "end 10.0.0.1 is before start")]
        ),
        "Invalid IP pool, no entry can hand out addresses: "
        "spec.pools[0].end: end 10.0.0.1 is before start",
        "PoolNotReady",
        id="pool-invalid",
    ),
    pytest.param(
        lambda: errors.InvalidPrefix(),
        "Invalid prefix value, it must be between 0 and 128",
        "AllocationFailed",
        id="invalid-prefix",
    ),
    pytest.param(
        lambda: errors.CreateFailed(),
        "Failed to create associated IPAddress object",
        "AllocationFailed",
        id="create-failed",
    ),
    pytest.param(
        lambda: errors.GetFailed(),
        "Failed to get associated IPAddress object",
        "AllocationFailed",
        id="get-failed",
    ),
    pytest.param(
        lambda: errors.DeleteFailed(),
        "Failed to delete associated IPAddress object",
        "AllocationFailed",
        id="delete-failed",
    ),
    pytest.param(
        lambda: errors.RequestedIPOutOfBounds(),
        "Requested IP out of bounds",
        "AllocationFailed",
        id="requested-ip-out-of-bounds",
    ),
    pytest.param(
        lambda: errors.PreAllocationTaken(),
        "Pre-allocated IP is held by another claim",
        "AllocationFailed",
        id="pre-allocation-taken",
    ),
]


@pytest.mark.parametrize(("make", "text", "reason"), CATALOGUE)
def test_each_error_carries_its_exact_text_and_reason(
    make: Callable[[], errors.IPAMError], text: str, reason: str
) -> None:
    error = make()
    assert error.args == (text,)
    assert error.message == text
    assert str(error) == text
    assert error.reason == reason


@pytest.mark.parametrize(("make", "text", "reason"), CATALOGUE)
def test_each_error_is_an_ipam_error(
    make: Callable[[], errors.IPAMError], text: str, reason: str
) -> None:
    error = make()
    assert isinstance(error, errors.IPAMError)
    with pytest.raises(errors.IPAMError, match=r".+"):
        raise error


def test_every_error_class_is_in_the_catalogue() -> None:
    listed = {type(param.values[0]()) for param in CATALOGUE}
    assert set(errors.IPAMError.__subclasses__()) == listed


def test_invalid_annotation_keeps_the_offending_value() -> None:
    assert errors.InvalidAnnotation("garbage").value == "garbage"


def test_field_errors_are_frozen_facts_compared_by_value() -> None:
    error = errors.FieldError("spec.pools[0].end", "is before start")
    assert error == errors.FieldError("spec.pools[0].end", "is before start")
    with pytest.raises(dataclasses.FrozenInstanceError):
        error.path = "spec"  # type: ignore[misc]


def test_pool_invalid_lists_three_problems_and_counts_the_rest() -> None:
    problems = [errors.FieldError(f"spec.pools[{i}]", "bad") for i in range(5)]
    error = errors.PoolInvalid(problems)
    assert error.message == (
        "Invalid IP pool, no entry can hand out addresses: spec.pools[0]: bad; "
        "spec.pools[1]: bad; spec.pools[2]: bad (and 2 more)"
    )
    assert error.problems == tuple(problems)


def test_an_invalid_pre_allocation_keeps_the_offending_value() -> None:
    assert errors.PreAllocationInvalid("x").value == "x"


def test_pool_invalid_with_exactly_three_problems_counts_nothing_more() -> None:
    problems = [errors.FieldError(f"spec.pools[{i}]", "bad") for i in range(3)]
    assert errors.PoolInvalid(problems).message == (
        "Invalid IP pool, no entry can hand out addresses: spec.pools[0]: bad; "
        "spec.pools[1]: bad; spec.pools[2]: bad"
    )
