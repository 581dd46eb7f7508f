"""The notification sender (runtime/notifier.py) and its SMTP client (runtime/smtp.py)."""

from __future__ import annotations

import base64
import logging
import ssl

import pytest
import trio
import trustme

from loopback_smtp import Relay
from orkestra_trio.katalog.notification import Notice, Notification, Team, conditions_only
from orkestra_trio.runtime.metrics import BoxMetrics
from orkestra_trio.runtime.notifier import Notifier
from orkestra_trio.runtime.smtp import SmtpError, SmtpSettings, send_mail, settings_from_env

NOTIFICATION = Notification(
    katalog="shop",
    webhook_env="NOT_SET_ANYWHERE",
    teams=(Team("ops", slack=("#ops",)),),
)


async def test_a_full_send_queue_drops_alerts_and_counts_them():
    metrics = BoxMetrics()
    notifier = Notifier("shop", NOTIFICATION, metrics, capacity=2, environ={})
    for name in "abcd":
        notifier.offer(("default", name), [Notice("s", "ops", name)], settles=conditions_only)
    assert notifier.queued_total == 2
    assert metrics.notifications_dropped_total == 2


async def test_a_failing_target_is_counted_each_time_and_logged_once(caplog):
    metrics = BoxMetrics()
    notifier = Notifier("shop", NOTIFICATION, metrics, environ={})
    caplog.set_level(logging.WARNING, logger="orkestra_trio.runtime.notifier")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(notifier.run)
        for name in "abc":
            notifier.offer(("default", name), [Notice("s", "ops", name)], settles=conditions_only)
        with trio.fail_after(5):
            while metrics.notifications_failed_total < 3:
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    [record] = caplog.records
    assert "team ops" in record.getMessage() and "$NOT_SET_ANYWHERE is not set" in (
        record.getMessage()
    )


async def _relay(nursery: trio.Nursery, relay: Relay) -> SmtpSettings:
    port = await relay.serve(nursery)
    settings = settings_from_env(
        {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_FROM": "o@example.com"}
    )
    assert settings is not None
    return settings


async def test_the_smtp_client_sends_one_message_dot_stuffed():
    relay = Relay()
    async with trio.open_nursery() as nursery:
        settings = await _relay(nursery, relay)
        with trio.fail_after(5):
            await send_mail(settings, ["a@example.com"], "alert", "first\n.hidden line\nlast")
        nursery.cancel_scope.cancel()
    [(recipients, raw)] = relay.messages
    assert recipients == ["a@example.com"]
    assert b"\r\n..hidden line\r\n" in raw  # the client doubled the leading dot
    assert b"Subject: alert" in raw and b"To: a@example.com" in raw


async def test_a_refused_recipient_is_an_smtp_error():
    relay = Relay(refuse="nobody@")
    async with trio.open_nursery() as nursery:
        settings = await _relay(nursery, relay)
        with trio.fail_after(5), pytest.raises(SmtpError, match="550"):
            await send_mail(settings, ["nobody@example.com"], "alert", "x")
        nursery.cancel_scope.cancel()
    assert relay.messages == []


def test_smtp_settings_come_from_orkestras_environment_variables():
    assert settings_from_env({}) is None
    settings = settings_from_env(
        {"SMTP_HOST": "mail", "SMTP_PORT": "587", "SMTP_USER": "u", "SMTP_PASS": "p"}
    )
    assert settings == SmtpSettings("mail", 587, "u", "p", "orkestra-trio@localhost")
    with pytest.raises(SmtpError, match="SMTP_PORT"):
        settings_from_env({"SMTP_HOST": "mail", "SMTP_PORT": "smtp"})


async def test_starttls_comes_before_the_password():
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    relay = Relay(tls=server)
    async with trio.open_nursery() as nursery:
        port = await relay.serve(nursery)
        settings = SmtpSettings("127.0.0.1", port, "u", "p", "o@example.com")
        with trio.fail_after(5):
            await send_mail(settings, ["a@example.com"], "alert", "x", tls=client)
        nursery.cancel_scope.cancel()
    secret = base64.b64encode(b"\0u\0p").decode()
    assert relay.auth == [(f"AUTH PLAIN {secret}", True)]  # sent over TLS
    assert len(relay.messages) == 1


async def test_credentials_never_cross_the_network_in_clear():
    relay = Relay()  # no STARTTLS
    async with trio.open_nursery() as nursery:
        # 127.0.0.2: loopback, but not a name the client trusts as this machine.
        port = await relay.serve(nursery, host="127.0.0.2")
        settings = SmtpSettings("127.0.0.2", port, "u", "p", "o@example.com")
        with trio.fail_after(5), pytest.raises(SmtpError, match="offers no TLS"):
            await send_mail(settings, ["a@example.com"], "alert", "x")
        nursery.cancel_scope.cancel()
    assert relay.auth == [] and relay.messages == []
