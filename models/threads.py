"""Sharing the CPU cores among the models that are generating right now.

Two panes that answer at once each get half the cores; when one finishes, the other takes them
all for the rest of its answer. A fixed split wastes the idle pane's cores for as long as the
slower answer runs, which on two cores made "both panes at once" slower than running the two
answers one after the other with every core each.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


class Lease:
    """One generating model's claim on the cores; ``threads_if_changed`` is polled per token."""

    def __init__(self, budget: ThreadBudget, fixed: int | None):
        self._budget = budget
        self.fixed = fixed
        self._seen_version = -1

    @property
    def threads(self) -> int:
        return self._budget.share(self)

    def threads_if_changed(self) -> int | None:
        """This lease's share when the set of generating models changed since the last call, else
        None (a cheap check per token; the engine skips a share equal to its current count)."""
        if self._budget.version == self._seen_version:
            return None
        self._seen_version = self._budget.version
        return self.threads


class ThreadBudget:
    def __init__(self, cores: int | None = None):
        self.cores = cores or available_cores()
        self._lock = threading.Lock()
        self._leases: list[Lease] = []
        self.version = 0  # bumped whenever the set of generating models changes

    def acquire(self, fixed: int | None = None) -> Lease:
        """Claim a share from now until ``release``; ``fixed`` pins the count (an explicit --threads).

        Panes claim when a message is sent, before their workers start, so two panes that start
        together never both begin their prompt with every core.
        """
        lease = Lease(self, fixed)
        with self._lock:
            self._leases.append(lease)
            self.version += 1
        return lease

    def release(self, lease: Lease) -> None:
        with self._lock:
            if lease in self._leases:
                self._leases.remove(lease)
                self.version += 1

    @contextmanager
    def generating(self, fixed: int | None = None) -> Iterator[Lease]:
        lease = self.acquire(fixed)
        try:
            yield lease
        finally:
            self.release(lease)

    def share(self, lease: Lease) -> int:
        if lease.fixed is not None:
            return lease.fixed
        with self._lock:
            flexible = [x for x in self._leases if x.fixed is None]
            pinned = sum(x.fixed for x in self._leases if x.fixed is not None)
            if lease not in flexible:
                return max(1, self.cores // 2)
            free = max(len(flexible), self.cores - pinned)
            base, extra = divmod(free, len(flexible))
            return max(1, base + (1 if flexible.index(lease) < extra else 0))


# One process, one machine: every engine in it draws on the same cores.
CPU_BUDGET = ThreadBudget()


@contextmanager
def cores_for(lease: Lease | None, fixed: int | None = None) -> Iterator[Lease]:
    """The caller's share of the cores (``lease``), or one claimed from CPU_BUDGET for a caller that
    gave none (``fixed``: a pinned --threads N). Every local engine's calls go through this."""
    if lease is not None:
        yield lease
        return
    with CPU_BUDGET.generating(fixed) as own:
        yield own
