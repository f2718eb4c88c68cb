"""Daemon threads that loop until told to stop, for the local stack's background work.

Each loop watches `stopping` (a threading.Event) between pieces of work; stop()
sets it, then waits for every loop to finish the piece in hand.
"""

import threading
from collections.abc import Callable, Iterable


class BackgroundThreads:
    """Named daemon threads sharing one stop signal: start(), then stop() once."""

    def __init__(self, loops: Iterable[tuple[str, Callable[[], None]]]) -> None:
        self.stopping = threading.Event()
        self._threads = [threading.Thread(target=loop, name=name, daemon=True) for name, loop in loops]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Let the work in hand finish, then return."""
        self.stopping.set()
        for thread in self._threads:
            thread.join()

    def alive(self) -> bool:
        """Not told to stop, and no loop has ended (crashed)."""
        return not self.stopping.is_set() and all(t.is_alive() for t in self._threads)
