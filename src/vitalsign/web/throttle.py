"""Sign-in throttling: wrong passwords per user and per client address lead to a lockout.

A user is locked out after `per_user` wrong passwords in a row (a right one resets the
count); a client address after `per_address` wrong passwords, for any users, within one
lockout period (a right one does not reset it, so that one valid account cannot be used to
keep guessing the others). While locked, every sign-in is refused, the right password too,
for `lockout_seconds`. The counts live in the server's memory: a restart forgets them.

>>> throttle = LoginThrottle(per_user=3, per_address=20, lockout_seconds=900)
>>> throttle.failed("ann", "10.0.0.1")
[]
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

MAX_TRACKED = 100_000  # users and addresses remembered at once (a flood of names is pruned)


class LoginThrottle:
    """Failed sign-ins per user name and per client address, and the lockouts they cause."""

    def __init__(
        self,
        per_user: int,
        per_address: int,
        lockout_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self.lockout_seconds = lockout_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._user_failures: dict[str, int] = {}
        self._address_failures: dict[str, deque[float]] = {}
        self._locked_until: dict[tuple[str, str], float] = {}

    def locked_for(self, user: str, address: str) -> float:
        """Return how many seconds the user or the address stays locked out (0: not locked)."""
        now = self._clock()
        with self._lock:
            left = [
                self._locked_until.get(key, 0.0) - now
                for key in (("user", user), ("address", address))
            ]
        return max(0.0, *left)

    def failed(self, user: str, address: str) -> list[str]:
        """Count a wrong password; return what it locked out now ("user", "address")."""
        now = self._clock()
        locked: list[str] = []
        with self._lock:
            self._prune(now)
            count = self._user_failures.get(user, 0) + 1
            if count >= self.per_user:
                self._locked_until[("user", user)] = now + self.lockout_seconds
                self._user_failures.pop(user, None)
                locked.append("user")
            else:
                self._user_failures[user] = count
            recent = self._address_failures.setdefault(address, deque())
            while recent and recent[0] <= now - self.lockout_seconds:
                recent.popleft()
            recent.append(now)
            if len(recent) >= self.per_address:
                self._locked_until[("address", address)] = now + self.lockout_seconds
                del self._address_failures[address]
                locked.append("address")
        return locked

    def succeeded(self, user: str) -> None:
        """Forget the user's wrong passwords (after the right one)."""
        with self._lock:
            self._user_failures.pop(user, None)

    def _prune(self, now: float) -> None:
        """Drop ended lockouts; past MAX_TRACKED, forget counts that locked nothing yet."""
        if len(self._locked_until) + len(self._user_failures) < MAX_TRACKED:
            return
        self._locked_until = {k: t for k, t in self._locked_until.items() if t > now}
        self._user_failures.clear()
        self._address_failures = {
            a: d for a, d in self._address_failures.items() if d and d[-1] > now - 60
        }


def wait_text(seconds: float) -> str:
    """Return a lockout's remaining time in words ("14 minutes", "40 seconds")."""
    if seconds >= 90:
        return f"{round(seconds / 60)} minutes"
    return f"{max(1, round(seconds))} seconds"
