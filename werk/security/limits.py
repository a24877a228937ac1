"""Rate limits per client: how many refused credentials an address may send before it is told to wait.

Why failures and not every request: werk's clients are dashboards and machines on a plant network that read
thousands of values a second by design; a guesser is the one that sends wrong tokens and passwords. Each client
address has a sliding window of ``window_s`` seconds; after ``max_failures`` refused credentials in it, every
request of that address that carries a credential (or signs in) is answered 429 with ``Retry-After`` until the
oldest failure leaves the window. Memory is bounded: at most :data:`MAX_CLIENTS` addresses are tracked, the
least recently failing forgotten first (counted in ``forgotten``).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque

MAX_CLIENTS = 10_000


class FailureLimiter:
    def __init__(self, max_failures: int = 20, window_s: float = 60.0) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()
        self.refused = 0  # requests answered 429
        self.forgotten = 0  # clients dropped at MAX_CLIENTS

    def retry_after(self, client: str, now: float | None = None) -> int:
        """Seconds ``client`` must wait before its next credential is looked at (0: go ahead)."""
        if client not in self._failures:  # every client that has not failed lately: no clock, no lock
            return 0
        now = time.monotonic() if now is None else now
        with self._lock:
            seen = self._failures.get(client)
            if seen is None:
                return 0
            while seen and seen[0] <= now - self.window_s:
                seen.popleft()
            if len(seen) < self.max_failures:
                return 0
            self.refused += 1
            return max(1, math.ceil(seen[0] + self.window_s - now))

    def failed(self, client: str, now: float | None = None) -> None:
        """Count one refused credential of ``client``."""
        now = time.monotonic() if now is None else now
        with self._lock:
            seen = self._failures.pop(client, None) or deque(maxlen=self.max_failures)
            seen.append(now)
            self._failures[client] = seen
            while len(self._failures) > MAX_CLIENTS:
                self._failures.popitem(last=False)
                self.forgotten += 1
