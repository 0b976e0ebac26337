"""The only code that imports Kopf: wiring, level-based reconciles, probes, metrics, the run loop.

- ``operator``     Kopf settings and the registry of handlers (on.event only)
- ``memories``     Kopf keeps no per-object memory (its private store, checked at start-up)
- ``run``          the process: preflight, probes, leader election, operator, shutdown
- ``state``        per-pool lock and ledger, fed by watches and our own creations
- ``claims``       one claim made true: bound, failed (and retried), or released
- ``allocation``   core decision + IPAddress creation, AlreadyExists = taken
- ``release``      a deleted claim gives its addresses back
- ``pools``        pool finalizer, Cluster labels/ownerRef, deletion
- ``pool_status``  pool status projection and conditions, written on change
- ``addresses``    IPAddress events: ledger, freed addresses, finalizer
- ``pause``        paused pools/claims/Clusters
- ``resync``       the periodic full re-alignment
- ``serving``      /healthz, /readyz, /metrics
- ``admission``    the validating webhook's handlers, served by every instance
- ``webhook_server`` its HTTPS server: full Status on refusals, self-signed certificates
- ``metrics``      Prometheus metrics
- ``context``      what every reconcile needs
"""

# Before Kopf, which imports kubernetes_asyncio: its generated classes are loaded when named.
import ipam.kube  # noqa: F401
