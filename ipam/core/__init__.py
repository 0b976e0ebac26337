"""The pure core: pools, address arithmetic, allocation, names, status and validation.

Facts in, decisions out. Nothing here waits, lists, patches or logs; only the standard
library and netaddr are imported (an import-linter contract checks it). Import modules, not
names: ``from ipam.core import pools`` then ``pools.Pool``.

- ``errors``      the one error tree and every user-visible text
- ``addresses``   strict parsing, Go's canonical text, one integer key space for both families
- ``ranges``      an interval set of integers: O(log n) lookups, O(intervals) memory
- ``entries``     one pool entry judged: its family, bounds, and why it is dropped
- ``pools``       an IPPool spec read into entries, bounds and inherited details
- ``ledger``      who holds which address of one pool, both claim kinds together
- ``allocate``    the decision: which address a claim gets
- ``names``       IPAddress object names and pools whose names or ranges clash
- ``status``      the IPPool status projected from the ledger
- ``validation``  the admission rules, every field error at once
- ``admission``   the rules that need other objects, and what a refusal says
"""
