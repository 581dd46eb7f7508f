"""Sending a box's ``notification`` alerts: Slack webhooks and email, off the reconcile path.

The reconcile only hands its plan's notices to :meth:`Notifier.offer`, which
never waits: the throttle (``katalog/notification.py``) decides what goes out
now, and each delivery is put on the box's bounded send queue, or dropped
and counted when the queue is full. :meth:`Notifier.run`, a task of the box's
nursery, sends them, a few at a time and each within ``timeout``: a webhook
that hangs or fails costs that task time, never a reconcile's. A failing
target is logged once, and again only after it worked in between.

Slack: an HTTP POST of ``{"text": ..., "channel": ...}`` (one per channel) to
the incoming webhook, whose URL may come from an environment variable
(``$VAR``), read when sending. Email: the ``SMTP_*`` environment (Orkestra's
settings), through :mod:`.smtp`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
import trio

from orkestra_trio.katalog.notification import Delivery, Notice, Notification, Throttle

from .metrics import BoxMetrics
from .smtp import SmtpError, send_mail, settings_from_env

logger = logging.getLogger(__name__)

#: Alerts waiting to be sent, per box; past it new ones are dropped (and counted).
QUEUE_CAPACITY = 64
#: Sends in flight at once, per box.
CONCURRENT_SENDS = 4
#: Longest one Slack POST or one email may take.
SEND_TIMEOUT = 10.0


class Notifier:
    """One box's alerts: throttled by :meth:`offer`, sent by :meth:`run`."""

    def __init__(
        self,
        box: str,
        notification: Notification,
        metrics: BoxMetrics,
        *,
        capacity: int = QUEUE_CAPACITY,
        timeout: float = SEND_TIMEOUT,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.box = box
        self.notification = notification
        self.metrics = metrics
        self.timeout = timeout
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.throttle = Throttle(notification)
        self._send, self._receive = trio.open_memory_channel[Delivery](capacity)
        #: Targets whose last send failed (logged once until one works again).
        self._failing: set[str] = set()
        #: Deliveries put on the send queue so far (the throttle let them through).
        self.queued_total = 0

    # ------------------------------------------------------- the reconcile's side

    def offer(self, cr: Any, notices: Iterable[Notice], *, settles: Any) -> None:
        """Queue what the throttle lets through now; never waits, never raises."""
        for delivery in self.throttle.decide(cr, notices, trio.current_time(), settles=settles):
            try:
                self._send.send_nowait(delivery)
                self.queued_total += 1
            except trio.WouldBlock:
                self.metrics.notifications_dropped_total += 1
                self._log_once(
                    "queue",
                    "box %s: the notification queue is full (%d waiting): alert for team %s dropped",
                    self.box,
                    QUEUE_CAPACITY,
                    delivery.team,
                )

    def forget(self, cr: Any) -> None:
        self.throttle.forget(cr)

    # ------------------------------------------------------------- the sender

    async def run(self) -> None:
        """Send queued alerts until cancelled (with the box's nursery)."""
        limiter = trio.CapacityLimiter(CONCURRENT_SENDS)
        async with (
            httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout), follow_redirects=False, trust_env=False
            ) as http,
            trio.open_nursery() as nursery,
        ):
            async for delivery in self._receive:
                await limiter.acquire_on_behalf_of(delivery)
                nursery.start_soon(self._deliver, http, delivery, limiter)

    async def _deliver(
        self, http: httpx.AsyncClient, delivery: Delivery, limiter: trio.CapacityLimiter
    ) -> None:
        try:
            if delivery.webhook or delivery.webhook_env:
                for channel in delivery.channels or ("",):
                    await self._slack(http, delivery, channel)
            if delivery.email:
                await self._email(delivery)
        finally:
            limiter.release_on_behalf_of(delivery)

    async def _slack(self, http: httpx.AsyncClient, delivery: Delivery, channel: str) -> None:
        target = f"slack:{delivery.team}"
        url = delivery.webhook
        if delivery.webhook_env:
            url = self.environ.get(delivery.webhook_env, "")
            if not url:
                self._failed(target, f"${delivery.webhook_env} is not set")
                return
        body: dict[str, str] = {"text": delivery.text}
        if channel:
            body["channel"] = channel
        problem = ""
        with trio.move_on_after(self.timeout) as scope:
            try:
                response = await http.post(url, json=body)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if not response.is_success:
                    problem = f"HTTP {response.status_code}"
        if scope.cancelled_caught:
            problem = f"no answer within {self.timeout:g}s"
        if problem:
            # The URL itself is a secret (anyone holding it may post): never logged.
            self._failed(target, f"the Slack webhook failed: {problem}")
        else:
            self._worked(target)

    async def _email(self, delivery: Delivery) -> None:
        target = f"email:{delivery.team}"
        try:
            settings = settings_from_env(self.environ)
        except SmtpError as exc:
            self._failed(target, str(exc))
            return
        if settings is None:
            self._failed(target, "SMTP_HOST is not set: no email is sent")
            return
        subject = delivery.text.splitlines()[0][:120] if delivery.text else "orkestra"
        problem = ""
        with trio.move_on_after(self.timeout) as scope:
            try:
                await send_mail(settings, delivery.email, subject, delivery.text)
            except SmtpError as exc:
                problem = str(exc)
        if scope.cancelled_caught:
            problem = f"no answer from {settings.host} within {self.timeout:g}s"
        if problem:
            self._failed(target, f"email failed: {problem}")
        else:
            self._worked(target, sent=len(delivery.email))

    # ---------------------------------------------------------------- reports

    def _failed(self, target: str, why: str) -> None:
        self.metrics.notifications_failed_total += 1
        team = target.partition(":")[2]
        self._log_once(target, "box %s: notification to team %s: %s", self.box, team, why)

    def _worked(self, target: str, *, sent: int = 1) -> None:
        self.metrics.notifications_sent_total += sent
        self._failing.discard("queue")  # the queue moves again: say so if it fills up anew
        if target in self._failing:
            self._failing.discard(target)
            logger.info("box %s: notifications to %s work again", self.box, target)

    def _log_once(self, target: str, message: str, *args: Any) -> None:
        if target in self._failing:
            logger.debug(message, *args)
            return
        self._failing.add(target)
        logger.warning(message, *args, extra={"box": self.box, "event": "notification_failed"})
