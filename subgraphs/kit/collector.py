"""The garbage collector's settings for a long-running service, set once it has started.

At CPython's defaults (a young-generation pass every 700 allocations, a full pass every 100 of
those) a subgraph spent 0.4-0.7 ms of a request's CPU in the collector (bench/read_cpu.py),
though almost everything a request allocates is freed by reference counting. What start-up
built (the schema, the ORM's mappings, the imported modules: ~250,000 objects) lives as long
as the process, so it is moved out of the collector's sight, and the passes are made rarer.
"""

from __future__ import annotations

import gc
from typing import Final

# Young generation, middle, old (CPython's defaults: 700, 10, 10). Between two young passes
# at most 10,000 objects wait (a few MB), and a full pass comes every million allocations.
THRESHOLDS: Final = (10_000, 10, 10)


def settle_after_startup() -> None:
    """Call once, when the service is ready to take work."""
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
