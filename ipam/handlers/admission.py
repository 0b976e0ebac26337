"""The validating admission webhook: Kopf's ``on.validate`` handlers, judged from fresh reads.

Every instance serves it from start to exit, the Lease holder and the standbys alike (a
Service sends admissions to any ready Pod), in a Kopf operator of its own that watches
only the CRDs: the rules are :mod:`ipam.core.admission`'s, and the neighbours they need are read
through :mod:`ipam.kube.neighbours` at each request, never taken from the leader's memory.

The paths are Metal3 IPAM's (``/validate-ipam-metal3-io-v1alpha1-ippool`` and so on),
plus one for Cluster API IPAddressClaims of our pools. What a request may not wait for:
the reads have :attr:`Options.budget` seconds, below the configuration's timeout, and a
request that cannot be judged (the API server does not answer in time) is refused with a
message saying so, as the configuration's ``failurePolicy: Fail`` would.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import kopf

from ipam.core import addresses, admission, errors, ledger, names, validation
from ipam.handlers import operator, webhook_server
from ipam.kube import api as kube_api
from ipam.kube import client, neighbours, resources

logger = logging.getLogger("ipam.admission")

POOL_PATH = "validate-ipam-metal3-io-v1alpha1-ippool"
CLAIM_PATH = "validate-ipam-metal3-io-v1alpha1-ipclaim"
ADDRESS_PATH = "validate-ipam-metal3-io-v1alpha1-ipaddress"
CAPI_CLAIM_PATH = "validate-ipam-cluster-x-k8s-io-v1beta2-ipaddressclaim"
PATHS = (POOL_PATH, CLAIM_PATH, ADDRESS_PATH, CAPI_CLAIM_PATH)


@dataclass(frozen=True)
class Options:
    """Where and how the webhook is served (``ipam run --webhook-*``)."""

    port: int = 0
    """0: no webhook server."""
    host: str = "0.0.0.0"
    cert_file: str | None = None
    key_file: str | None = None
    hostnames: Sequence[str] = ("localhost", "127.0.0.1")
    """Names of a self-signed certificate (used when no files are given)."""
    ca_file: str | None = None
    """Where to write the self-signed certificate: the caBundle to register (optional)."""
    budget: float = 8.0
    """Seconds a request may spend reading its neighbours (the configuration says 10)."""

    @property
    def enabled(self) -> bool:
        return self.port > 0


def registry(
    api: kube_api.Api, kubeconfig: str | None, flavours: Sequence[resources.Flavour], budget: float
) -> kopf.OperatorRegistry:
    """The webhook's handlers, in a registry of their own (with the controller's login)."""
    reg = kopf.OperatorRegistry()
    operator.add_login(reg, kubeconfig)
    judge = _Judge(api, tuple(flavours), budget)
    operations: tuple[Literal["CREATE"], Literal["UPDATE"]] = ("CREATE", "UPDATE")

    def add(res: resources.Resource, path: str, fn: Any) -> None:
        kopf.on.validate(
            res.group, res.version, res.plural, id=path, operations=operations, registry=reg
        )(fn)

    async def pool(body: kopf.Body, old: kopf.Body | None, operation: str, **_: Any) -> None:
        await judge.review(resources.IPPOOL, operation, body, old, judge.pool)

    async def metal3_claim(
        body: kopf.Body, old: kopf.Body | None, operation: str, **_: Any
    ) -> None:
        await judge.review(resources.IPCLAIM, operation, body, old, judge.metal3_claim)

    async def address(body: kopf.Body, old: kopf.Body | None, operation: str, **_: Any) -> None:
        await judge.review(resources.METAL3_IPADDRESS, operation, body, old, judge.address)

    async def capi_claim(body: kopf.Body, old: kopf.Body | None, operation: str, **_: Any) -> None:
        await judge.review(resources.CAPI_IPADDRESSCLAIM, operation, body, old, judge.capi_claim)

    add(resources.IPPOOL, POOL_PATH, pool)
    add(resources.IPCLAIM, CLAIM_PATH, metal3_claim)
    add(resources.METAL3_IPADDRESS, ADDRESS_PATH, address)
    add(resources.CAPI_IPADDRESSCLAIM, CAPI_CLAIM_PATH, capi_claim)
    return reg


Body = Mapping[str, Any]


@dataclass(frozen=True)
class _Judge:
    api: kube_api.Api
    flavours: tuple[resources.Flavour, ...]
    budget: float

    async def review(
        self,
        resource: resources.Resource,
        operation: str,
        body: kopf.Body,
        old: kopf.Body | None,
        rules: Any,
    ) -> None:
        obj, before = dict(body), (dict(old) if old is not None else None)
        if not admission.review_needed(operation, obj, before):
            return
        meta = obj.get("metadata") or {}
        where = f"{resource.kind} {meta.get('namespace', '')}/{meta.get('name', '')}"
        try:
            problems = await asyncio.wait_for(rules(obj, before), timeout=self.budget)
        except (TimeoutError, client.KubeError) as err:
            logger.warning("Cannot judge %s %s: %s", operation.lower(), where, err or "timed out")
            raise kopf.AdmissionError(
                f"cannot judge this {resource.kind} now: reading its neighbours failed "
                f"({err or f'no answer in {self.budget:.0f}s'}); try again",
                code=503,
            ) from err
        if not problems:
            return
        rejection = admission.Rejection(
            resource.kind, resource.group, str(meta.get("name") or ""), tuple(problems)
        )
        logger.info("Refused %s of %s: %s", operation.lower(), where, rejection.message)
        raise webhook_server.refuse(rejection.status, rejection.message)

    async def pool(self, obj: Body, old: Body | None) -> list[errors.FieldError]:
        meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        others = await neighbours.pool_specs(self.api, namespace)
        others.pop(name, None)
        held = await neighbours.held_in(self.api, namespace, self.flavours)
        old_spec = (old.get("spec") or {}) if old is not None else None
        return admission.pool_errors(name, spec, old_spec=old_spec, others=others, held=held)

    async def metal3_claim(self, obj: Body, old: Body | None) -> list[errors.FieldError]:
        pool = str(((obj.get("spec") or {}).get("pool") or {}).get("name") or "")
        return await self._claim(ledger.METAL3, obj, old, pool)

    async def capi_claim(self, obj: Body, old: Body | None) -> list[errors.FieldError]:
        ref = (obj.get("spec") or {}).get("poolRef") or {}
        if ref.get("apiGroup") != resources.METAL3_GROUP or ref.get("kind") != "IPPool":
            return []  # another provider's claim
        return await self._claim(ledger.CAPI, obj, old, str(ref.get("name") or ""))

    async def _claim(
        self, kind: ledger.ClaimKind, obj: Body, old: Body | None, pool: str
    ) -> list[errors.FieldError]:
        namespace = str((obj.get("metadata") or {}).get("namespace") or "")
        wanted = {admission.requested(obj), admission.requested(old) if old else ""} - {""}
        # A name that no object can have is not looked up: it could change the API path.
        readable = bool(pool) and names.is_object_name(pool)
        pool_spec = await neighbours.pool_spec(self.api, namespace, pool) if readable else None
        held: list[admission.Held] = []
        prefix = (pool_spec or {}).get("namePrefix")
        for text in sorted(wanted):
            if isinstance(prefix, str) and prefix and addresses.key_of(text) is not None:
                held += await neighbours.holders(
                    self.api, namespace, self.flavours, pool=pool, name_prefix=prefix, address=text
                )
        return admission.claim_errors(
            kind, obj, old=old, pool_name=pool, pool_spec=pool_spec, held=held
        )

    async def address(self, obj: Body, old: Body | None) -> list[errors.FieldError]:
        return validation.validate_address(obj, old=old)


def settings(server: webhook_server.Server) -> kopf.OperatorSettings:
    """A Kopf that serves admissions and nothing else: no Events, no peering.

    It keeps watching the CRDs (as the controller's own Kopf does), so Cluster API's claims
    are judged from the moment their CRD is installed, even after this process started.
    """
    result = kopf.OperatorSettings()
    result.posting.enabled = False
    result.peering.standalone = True
    result.admission.server = server
    result.admission.managed = None
    return result


def server(options: Options, listening: asyncio.Event) -> webhook_server.Server:
    """Kopf's HTTPS server with the given certificate, or a self-signed one."""
    cert, key = options.cert_file, options.key_file
    if not (cert and key):
        cert_path, key_path = webhook_server.self_signed(
            webhook_server.scratch_directory(), options.hostnames
        )
        cert, key = str(cert_path), str(key_path)
        logger.warning(
            "The webhook serves a self-signed certificate for %s (development only).",
            ", ".join(options.hostnames),
        )
        if options.ca_file:
            Path(options.ca_file).write_bytes(cert_path.read_bytes())
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as err:
        raise webhook_server.CertificateError(f"cannot load {cert} and {key}: {err}") from err
    return webhook_server.Server(
        listening=listening, addr=options.host, port=options.port, certfile=cert, pkeyfile=key
    )


class _QuietRefusals(logging.Filter):
    """Kopf logs every refusal as a handler failure; ours are logged once, as refusals."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("failed permanently" in message and any(p in message for p in PATHS))


_QUIET = _QuietRefusals()


async def serve(
    api: kube_api.Api,
    https: webhook_server.Server,
    *,
    kubeconfig: str | None,
    flavours: Sequence[resources.Flavour],
    budget: float,
    stop: asyncio.Event,
    ready: asyncio.Event,
) -> None:
    """Serve admissions until ``stop`` is set (Kopf's operator, watching only the CRDs)."""
    logging.getLogger("kopf.objects").addFilter(_QUIET)
    await kopf.operator(
        registry=registry(api, kubeconfig, flavours, budget),
        settings=settings(https),
        standalone=True,
        clusterwide=True,
        stop_flag=stop,
        ready_flag=ready,
    )
