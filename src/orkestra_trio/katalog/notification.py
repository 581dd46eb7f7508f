"""Orkestra's ``notification`` block: who is told what, and how often (decisions only).

A Katalog declares teams (Slack channels behind an incoming webhook, email
recipients, a repeat ``interval``, a ``message`` template). Two things alert
them (ORKESTRA-LANGUAGE.md 1.2, 1.12; Orkestra's ``pkg/types/notification.go``):

* a condition carrying ``notify: {teams, message}`` alerts its teams while it
  holds for a CR, evaluated at every reconcile of that CR;
* a failed reconcile alerts every team (the block is "alerting on failures";
  its messages may say ``{{ .Error }}``).

A repeat of the same alert (same CR, same condition or the failure, same
team) waits for the team's ``interval`` (default 15m); once the condition no
longer holds (or the CR reconciles again without error) the next one is sent
at once. Everything here is pure: :class:`Throttle` is handed the time. The
runtime (``runtime/notifier.py``) sends what it decides, off the reconcile path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import attrs

from orkestra_trio.katalog.conditions import Condition, Notify, condition_holds
from orkestra_trio.katalog.template import CompiledTemplate

#: ``notification.defaults.interval`` when none is given (Orkestra's default).
DEFAULT_INTERVAL = 15 * 60.0
#: ``Notice.source`` of the alert a failed reconcile raises.
FAILURE = "reconcile failure"


@attrs.frozen
class Team:
    """``notification.teams.<name>``."""

    name: str
    #: ``slack``: the channels to post to (each gets the message through the webhook).
    slack: tuple[str, ...] = ()
    #: ``slackWebhookUrl`` as written, or the environment variable it names (``$VAR``).
    webhook: str = ""
    webhook_env: str = ""
    email: tuple[str, ...] = ()
    #: ``interval`` in seconds (None: the block's default).
    interval: float | None = None
    message: str = ""
    message_template: CompiledTemplate | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class Notification:
    """The Katalog's ``notification`` block (``katalog``: its name, for ``.KatalogName``)."""

    katalog: str
    enabled: bool = True
    interval: float = DEFAULT_INTERVAL
    webhook: str = ""
    webhook_env: str = ""
    teams: tuple[Team, ...] = ()

    @property
    def active(self) -> bool:
        """Anything to send at all (Orkestra: declared, not disabled, with teams)."""
        return self.enabled and bool(self.teams)

    def team(self, name: str) -> Team | None:
        return next((team for team in self.teams if team.name == name), None)

    def interval_of(self, team: Team) -> float:
        return team.interval if team.interval else self.interval

    def webhook_of(self, team: Team) -> tuple[str, str]:
        """(URL, environment variable naming it): the team's, else the default; none
        for a team without Slack (neither channels nor a webhook of its own)."""
        if not (team.slack or team.webhook or team.webhook_env):
            return "", ""
        if team.webhook or team.webhook_env:
            return team.webhook, team.webhook_env
        return self.webhook, self.webhook_env


@attrs.frozen
class Notice:
    """One alert for one team: ``source`` is the condition's ``file:line:col`` or FAILURE."""

    source: str
    team: str
    text: str


@attrs.frozen
class Delivery:
    """A notice to send now, with where to send it."""

    team: str
    text: str
    #: Slack: the webhook URL (or the variable naming it) and the channels.
    webhook: str = ""
    webhook_env: str = ""
    channels: tuple[str, ...] = ()
    email: tuple[str, ...] = ()


def notify_conditions(root: object) -> tuple[Condition, ...]:
    """Every condition under ``root`` (an operatorBox) that carries ``notify:``, once each."""
    found: dict[int, Condition] = {}
    for condition in _conditions(root, set()):
        if condition.notify is not None:
            found.setdefault(id(condition), condition)
    return tuple(found.values())


def _conditions(value: object, seen: set[int]) -> Iterator[Condition]:
    if isinstance(value, str | bytes | int | float | bool) or value is None or id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, Condition):
        yield value
    elif attrs.has(type(value)):
        for field in attrs.fields(type(value)):  # type: ignore[arg-type]
            yield from _conditions(getattr(value, field.name), seen)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _conditions(item, seen)
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _conditions(item, seen)


def message_context(
    notification: Notification, crd: str, context: Mapping[str, Any], error: str = ""
) -> dict[str, Any]:
    """The CR's template context plus ``.KatalogName .CRDName .Error .Namespace .Name``."""
    metadata = context.get("metadata") or {}
    return {
        **context,
        "KatalogName": notification.katalog,
        "CRDName": crd,
        "Error": error,
        "Namespace": str(metadata.get("namespace") or ""),
        "Name": str(metadata.get("name") or ""),
    }


def _render(
    templates: Iterable[tuple[str, CompiledTemplate | None]],
    context: Mapping[str, Any],
    default: str,
) -> str:
    """The first message written (rendered), else ``default``; a broken one says so."""
    for text, template in templates:
        if not text:
            continue
        if template is None:
            return text
        try:
            return template.render(context)
        except Exception as exc:  # an alert must still go out: say what broke
            return f"{default} (the message template failed: {exc})"
    return default


def condition_notices(
    notification: Notification,
    crd: str,
    conditions: Iterable[Condition],
    context: Mapping[str, Any],
) -> tuple[Notice, ...]:
    """The alerts of the ``notify`` conditions that hold for the CR of ``context``."""
    if not notification.active:
        return ()
    values = message_context(notification, crd, context)
    default = f"[orkestra] {values['Namespace']}/{values['Name']}: condition triggered"
    out: list[Notice] = []
    for condition in conditions:
        notify: Notify | None = condition.notify
        if notify is None:
            continue
        try:
            holds = condition_holds(condition, context)
        except Exception:  # a condition that cannot be evaluated alerts nobody
            holds = False
        if not holds:
            continue
        for name in notify.teams:
            team = notification.team(name)
            if team is None:
                continue
            text = _render(
                ((notify.message, notify.message_template), (team.message, team.message_template)),
                values,
                default,
            )
            out.append(Notice(notify.where, name, text))
    return tuple(out)


def failure_notices(
    notification: Notification, crd: str, context: Mapping[str, Any], error: str
) -> tuple[Notice, ...]:
    """The alerts of a failed reconcile: every team, with ``.Error`` set."""
    if not notification.active:
        return ()
    values = message_context(notification, crd, context, error)
    default = (
        f"[orkestra] {notification.katalog}/{crd} {values['Namespace']}/{values['Name']}: "
        f"reconcile failed: {error}"
    )
    return tuple(
        Notice(
            FAILURE, team.name, _render(((team.message, team.message_template),), values, default)
        )
        for team in notification.teams
    )


def everything(source: str) -> bool:
    """``settles`` of a successful reconcile: every alert not raised again has ended."""
    return True


def conditions_only(source: str) -> bool:
    """``settles`` of a plan: the conditions' alerts not raised again have ended."""
    return source != FAILURE


def failure_only(source: str) -> bool:
    """``settles`` of a failed reconcile: only the failure alert is decided."""
    return source == FAILURE


class Throttle:
    """Which notices to send now, per (CR, source, team), by the team's interval.

    An alert goes out when it starts, then again each ``interval`` while it
    lasts. It ends when a decision that ``settles`` its source does not raise
    it again: a later start is new and goes out at once.
    """

    def __init__(self, notification: Notification) -> None:
        self.notification = notification
        #: When each alert last went out, per CR: (source, team) -> time.
        self._last: dict[Any, dict[tuple[str, str], float]] = {}

    def decide(
        self,
        cr: Any,
        notices: Iterable[Notice],
        now: float,
        *,
        settles: Callable[[str], bool],
    ) -> list[Delivery]:
        notices = tuple(notices)
        raised = {(notice.source, notice.team) for notice in notices}
        last = self._last.get(cr, {})
        for slot in [s for s in last if settles(s[0]) and s not in raised]:
            del last[slot]
        out: list[Delivery] = []
        for notice in notices:
            team = self.notification.team(notice.team)
            if team is None:
                continue
            slot = (notice.source, notice.team)
            sent = last.get(slot)
            if sent is not None and now - sent < self.notification.interval_of(team):
                continue
            last[slot] = now
            out.append(self.delivery(team, notice.text))
        if last:
            self._last[cr] = last
        else:
            self._last.pop(cr, None)
        return out

    def delivery(self, team: Team, text: str) -> Delivery:
        webhook, webhook_env = self.notification.webhook_of(team)
        return Delivery(
            team=team.name,
            text=text,
            webhook=webhook,
            webhook_env=webhook_env,
            channels=team.slack,
            email=team.email,
        )

    def forget(self, cr: Any) -> None:
        """The CR is gone: its alerts with it."""
        self._last.pop(cr, None)
