"""Prometheus metrics of the controller, in a registry of its own (never the global one)."""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """Per-pool address gauges, allocation latency, and counters of outcomes and errors."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("namespace", "pool")
        self.total = Gauge(
            "ipam_pool_addresses_total",
            "Addresses the ranges of the pool hold.",
            labels,
            registry=self.registry,
        )
        self.used = Gauge(
            "ipam_pool_addresses_used",
            "Addresses held by an IPAddress or pre-allocated.",
            labels,
            registry=self.registry,
        )
        self.free = Gauge(
            "ipam_pool_addresses_free",
            "Addresses that can still be handed out.",
            labels,
            registry=self.registry,
        )
        self.allocation_seconds = Histogram(
            "ipam_allocation_duration_seconds",
            "Time from taking a claim up to its IPAddress being created.",
            ("kind",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.allocations = Counter(
            "ipam_allocations",
            "Addresses handed out (new IPAddress objects).",
            ("kind",),
            registry=self.registry,
        )
        self.releases = Counter(
            "ipam_releases",
            "Addresses released by deleted claims.",
            ("kind",),
            registry=self.registry,
        )
        self.allocation_errors = Counter(
            "ipam_allocation_errors",
            "Claims that could not be given an address, by reason.",
            ("kind", "reason"),
            registry=self.registry,
        )
        self.api_errors = Counter(
            "ipam_api_errors",
            "Reconciles interrupted by an API server error.",
            ("resource",),
            registry=self.registry,
        )
        self.name_clashes = Counter(
            "ipam_name_clashes",
            "IPAddress creations refused because the name was taken.",
            ("kind",),
            registry=self.registry,
        )

    def set_pool(self, namespace: str, pool: str, *, total: int, used: int, free: int) -> None:
        self.total.labels(namespace, pool).set(total)
        self.used.labels(namespace, pool).set(used)
        self.free.labels(namespace, pool).set(free)

    def forget_pool(self, namespace: str, pool: str) -> None:
        for gauge in (self.total, self.used, self.free):
            with contextlib.suppress(KeyError):
                gauge.remove(namespace, pool)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
