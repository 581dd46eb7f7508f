"""Reading Orkestra's ``notification`` block and a condition's ``notify:``.

The block is read before the CRDs, so that each ``notify:`` is checked
against the teams it declares: a team name that does not exist is a load
error at its ``file:line``, never an alert silently sent to nobody.
"""

from __future__ import annotations

import re
from typing import Any

from orkestra_trio.katalog.conditions import Notify
from orkestra_trio.katalog.errors import did_you_mean
from orkestra_trio.katalog.notification import DEFAULT_INTERVAL, Notification, Team
from orkestra_trio.katalog.reading import DocumentReader, describe
from orkestra_trio.katalog.yamlsource import KeyPath

_BLOCK_KEYS = ("enabled", "standalone", "defaults", "teams")
_TEAM_KEYS = ("slack", "slackWebhookUrl", "email", "interval", "message")
_ENV = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")
_WEBHOOK = re.compile(r"https?://[^/?#\s]+(?:[/?#]\S*)?")
# One address: no spaces or line breaks (they would be SMTP commands), one @.
_ADDRESS = re.compile(r"[^@\s<>,]+@[^@\s<>,]+")


class NotificationReader(DocumentReader):
    """A :class:`DocumentReader` that reads the ``notification`` block and ``notify:``."""

    #: The teams ``notify:`` may name (None: the Katalog declares no notification block).
    notify_teams: frozenset[str] | None = None

    def notification(self, top: dict[str, Any], katalog: str) -> Notification | None:
        path: KeyPath = ("notification",)
        block = self.section(top, (), "notification", allowed=_BLOCK_KEYS)
        if block is None:
            return None
        if block.get("standalone") is False:
            # Orkestra's companion mode hands the alerts to its gateway process to
            # send; here the runtime is its own gateway, so they go out from it.
            self.warn(
                (*path, "standalone"),
                "standalone: false hands the sending to Orkestra's gateway; this runtime "
                "is its own gateway and sends the alerts itself",
            )
        self.boolean(block, path, "standalone", True)
        defaults = self.section(block, path, "defaults", allowed=("interval", "slackWebhookUrl"))
        interval = DEFAULT_INTERVAL
        webhook = webhook_env = ""
        if defaults is not None:
            here = (*path, "defaults")
            interval = self.positive_interval(defaults, here) or DEFAULT_INTERVAL
            webhook, webhook_env = self.webhook(defaults, here)
        teams: list[Team] = []
        section = self.section(block, path, "teams", allowed=None)
        for name, value in (section or {}).items():
            # A default written (if wrongly, which is reported already) serves every team.
            written = defaults is not None and defaults.get("slackWebhookUrl") is not None
            team = self.team(str(name), value, (*path, "teams", name), written)
            if team is not None:
                teams.append(team)
        self.notify_teams = frozenset(str(name) for name in section or {})
        return Notification(
            katalog=katalog,
            enabled=self.boolean(block, path, "enabled", True),
            interval=interval,
            webhook=webhook,
            webhook_env=webhook_env,
            teams=tuple(teams),
        )

    def team(self, name: str, value: Any, path: KeyPath, default_webhook: bool) -> Team | None:
        m = self.mapping(value, path, allowed=_TEAM_KEYS, what="a team (slack, email...)")
        if m is None:
            return None
        channels, webhook, webhook_env = self.slack(m, path)
        email = tuple(self.addresses(m, path))
        slack = m.get("slack")
        own_webhook = m.get("slackWebhookUrl") is not None or (
            isinstance(slack, dict) and slack.get("webhook") is not None
        )
        if slack is not None and not (own_webhook or default_webhook):
            self.report(
                (*path, "slack"),
                "Slack needs a webhook: give the team slackWebhookUrl or "
                "notification.defaults.slackWebhookUrl",
            )
        if slack is None and not own_webhook and m.get("email") is None:
            self.report(path, f"team {name!r} has nowhere to send: give slack or email")
        message = self.string(m, path, "message") or ""
        return Team(
            name=name,
            slack=channels,
            webhook=webhook,
            webhook_env=webhook_env,
            email=email,
            interval=self.positive_interval(m, path),
            message=message,
            message_template=self.compile(message, (*path, "message")),
        )

    def slack(self, m: dict[str, Any], path: KeyPath) -> tuple[tuple[str, ...], str, str]:
        """``slack: ["#ch"]`` (Orkestra's) or ``slack: {webhook, channels}``; ``slackWebhookUrl``."""
        value = m.get("slack")
        here = (*path, "slack")
        webhook, webhook_env = self.webhook(m, path)
        if isinstance(value, dict):
            inner = self.mapping(value, here, allowed=("webhook", "channels"))
            if inner is not None and inner.get("webhook") is not None:
                if webhook or webhook_env:
                    self.report(here, "give slack.webhook or slackWebhookUrl, not both")
                webhook, webhook_env = self.webhook(inner, here, key="webhook")
            value = (inner or {}).get("channels")
            here = (*here, "channels")
        if isinstance(value, str):
            value = [value]
        channels: list[str] = []
        if value is not None and not isinstance(value, list):
            self.report(here, f"expected a list of channels, got {describe(value)}")
        for index, channel in enumerate(value or ()):
            if not isinstance(channel, str) or not channel.strip() or "\n" in channel:
                self.report((*here, index), f"expected a channel name, got {describe(channel)}")
            else:
                channels.append(channel)
        return tuple(channels), webhook, webhook_env

    def webhook(
        self, m: dict[str, Any], path: KeyPath, *, key: str = "slackWebhookUrl"
    ) -> tuple[str, str]:
        """A webhook URL as (literal, environment variable): ``https://...`` or ``$VAR``."""
        raw = self.string(m, path, key, required=True)
        if raw is None:
            return "", ""
        reference = _ENV.fullmatch(raw)
        if reference is not None:
            return "", reference["braced"] or reference["bare"]
        if not _WEBHOOK.fullmatch(raw):
            self.report(
                (*path, key),
                f"expected an http:// or https:// URL or $VARIABLE naming one, got {raw!r}",
            )
            return "", ""
        return raw, ""

    def addresses(self, m: dict[str, Any], path: KeyPath) -> list[str]:
        out: list[str] = []
        value = m.get("email")
        if isinstance(value, str):
            value = [value]
        if value is not None and not isinstance(value, list):
            self.report((*path, "email"), f"expected a list of addresses, got {describe(value)}")
            return out
        for index, address in enumerate(value or ()):
            if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
                self.report(
                    (*path, "email", index), f"expected an email address, got {describe(address)}"
                )
            else:
                out.append(address)
        return out

    def positive_interval(self, m: dict[str, Any], path: KeyPath) -> float | None:
        seconds = self.duration(m, path, "interval", None)
        if seconds is not None and seconds <= 0:
            self.report((*path, "interval"), "interval must be longer than 0s")
            return None
        return seconds

    def notify(self, value: Any, path: KeyPath, where: str) -> Notify | None:
        """``notify: {teams: [...], message}`` (or ``notify: [team, ...]``) of a condition."""
        if isinstance(value, list):
            value = {"teams": value}
        m = self.mapping(
            value, path, allowed=("teams", "message"), required=("teams",), what="{teams, message}"
        )
        if m is None:
            return None
        names: list[str] = []
        teams = self.items(m, path, "teams")
        if m.get("teams") is not None and not teams:
            self.report((*path, "teams"), "name at least one team")
        for index, name in enumerate(teams):
            here = (*path, "teams", index)
            if not isinstance(name, str):
                self.report(here, f"expected a team name, got {describe(name)}")
            elif self.notify_teams is None:
                self.report(
                    here,
                    f"notify names team {name!r}, but the Katalog has no notification block "
                    "declaring teams",
                )
            elif name not in self.notify_teams:
                known = ", ".join(sorted(self.notify_teams)) or "none"
                hint = did_you_mean(name, self.notify_teams) or f" (teams: {known})"
                self.report(here, f"unknown team {name!r} in notify{hint}")
            else:
                names.append(name)
        message = self.string(m, path, "message") or ""
        return Notify(
            teams=tuple(names),
            message=message,
            message_template=self.compile(message, (*path, "message")),
            where=where,
        )
