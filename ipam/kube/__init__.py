"""The only code that talks to the API server; it never imports Kopf.

- ``resources``   every type, finalizer, label and annotation we touch, by name
- ``bodies``      raw bodies <-> frozen records and core types; the IPAddress upstream makes
- ``statuses``    claim and pool status as merge patches, empty when nothing changes
- ``generated``   kubernetes_asyncio's generated classes, each imported when first named
- ``connection``  kubeconfig / in-cluster configuration and credentials
- ``client``      async calls with domain outcomes (None, AlreadyExists, Conflict, KubeError)
- ``events``      core/v1 Events, queued and posted in the background
- ``leader``      Lease-based leader election
- ``inventory``   a one-shot read of pools and addresses for the ``pools`` command
- ``neighbours``  what the webhook judges a request against, read at each request
"""

from ipam.kube import generated

generated.defer()
