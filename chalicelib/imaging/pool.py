"""The imaging thread pool: encoders run on it,
created on first use, never at import; with one CPU there is none and jobs run inline.
"""

import enum
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Literal, TypeVar

# Lambda gives 1 vCPU per 1769 MB of memory; below that a pool only adds overhead.
_CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class _Unset(enum.Enum):
    UNSET = enum.auto()


_UNSET = _Unset.UNSET  # not made yet (None is "no pool")
_R = TypeVar("_R")
# Pillow releases the GIL while it resamples and encodes, so encoders on
# threads run in parallel with the next rendition's resize. Tests and the
# bench set this to their own executor, or to None for no pool.
_POOL: ThreadPoolExecutor | None | Literal[_Unset.UNSET] = _UNSET
_LOCK = threading.Lock()


def get_pool() -> ThreadPoolExecutor | None:
    """The shared pool, made on the first call; None on a single CPU."""
    global _POOL
    if _POOL is _UNSET:
        with _LOCK:
            if _POOL is _UNSET:
                _POOL = ThreadPoolExecutor(_CPUS, thread_name_prefix="encode") if _CPUS > 1 else None
    return _POOL


def submit(fn: Callable[..., _R], *args: object) -> Future[_R] | _R:
    """`fn(*args)` on the pool (a Future), or its result right away without one."""
    pool = get_pool()
    return pool.submit(fn, *args) if pool else fn(*args)
