"""Runs the app's `@app.schedule` handlers in the local stack, as EventBridge does on AWS.

Without it the sweeper never runs locally, and uploads whose URL was never
used stay PENDING forever. Each `Rate` schedule gets a thread that invokes
the real handler with a scheduled-event JSON at that rate (or at the rate
given for its name, to see a sweep without waiting 5 minutes). Cron
expressions are not emulated; imgpipe has none.
"""

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from chalice import Chalice, Rate

from imgpipe.background import BackgroundThreads

log = logging.getLogger(__name__)
_UNIT_SECONDS = {Rate.MINUTES: 60, Rate.HOURS: 3600, Rate.DAYS: 86400}


def scheduled_event(name: str, region: str) -> dict:
    """The event EventBridge sends a scheduled Lambda (the local emulator's account id)."""
    from moto.core import DEFAULT_ACCOUNT_ID

    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": DEFAULT_ACCOUNT_ID, "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region, "resources": [f"arn:aws:events:{region}:{DEFAULT_ACCOUNT_ID}:rule/{name}"],
        "detail": {},
    }


def rate_schedules(app: Chalice) -> dict[str, float]:
    """{handler name: seconds between runs} for every Rate schedule of a Chalice app."""
    found: dict[str, float] = {}
    for source in app.event_sources:
        expression = getattr(source, "schedule_expression", None)
        if isinstance(expression, Rate):
            found[source.name] = expression.value * _UNIT_SECONDS[expression.unit]
        elif expression is not None:
            log.warning("schedule %s (%s) is not run locally: only rate() schedules are",
                        source.name, expression)
    return found


class Schedules(BackgroundThreads):
    """One thread per schedule; `invoke(name, event)` runs the handler. stop() lets a
    run in progress finish, then returns."""

    def __init__(self, every: dict[str, float], invoke: Callable[[str, dict], None], region: str) -> None:
        self._invoke, self._region = invoke, region
        super().__init__((f"imgpipe-schedule-{name}", partial(self._run, name, seconds))
                         for name, seconds in every.items())

    def _run(self, name: str, seconds: float) -> None:
        while not self.stopping.wait(seconds):
            try:
                self._invoke(name, scheduled_event(name, self._region))
            except Exception:  # as on Lambda: this run failed, the next one comes anyway
                log.exception("scheduled %s failed; it runs again in %s s", name, seconds)
