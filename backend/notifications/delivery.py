"""Sending queued notifications: the body for each channel kind, retries with
exponential backoff and jitter, every attempt recorded.

Sending never happens inside a database transaction: due notifications are claimed
(their next attempt pushed past the request timeout) and committed, sent, and the
outcome written in a second short transaction.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session

from backend import clock, metrics
from backend.config import NotifySettings
from backend.db import Database, is_sqlite
from backend.models import Notification, NotificationAttempt, NotificationChannel
from backend.notifications import repository, signing
from backend.notifications.outbound import BlockedDestination, check_url

logger = logging.getLogger(__name__)

PAGERDUTY_ACTIONS = {"opened": "trigger", "acknowledged": "acknowledge", "resolved": "resolve"}
PAGERDUTY_SEVERITY = {"info": "info", "warning": "warning", "critical": "critical"}
RETRYABLE = {408, 425, 429, 500, 502, 503, 504}
SLACK_EMOJI = {
    "opened": ":rotating_light:",
    "acknowledged": ":eyes:",
    "resolved": ":white_check_mark:",
}


@dataclass(frozen=True)
class Request:
    url: str
    body: bytes
    headers: dict[str, str]


def build_request(
    channel: NotificationChannel, notification: Notification, settings: NotifySettings, now: int
) -> Request:
    payload = notification.payload
    event = notification.event
    if channel.kind == "webhook":
        body = json.dumps(
            {
                "type": payload["type"],
                "timestamp": datetime.fromtimestamp(now, UTC).isoformat(),
                # An alert transition, or a signed audit checkpoint for a witness.
                "data": payload.get("alert", payload.get("checkpoint")),
            },
            separators=(",", ":"),
        ).encode()
        headers = {"content-type": "application/json"}
        if channel.secret:
            headers |= signing.headers(channel.secret, notification.message_id, now, body)
        else:
            headers |= {"webhook-id": notification.message_id, "webhook-timestamp": str(now)}
        return Request(channel.url, body, headers)
    alert = payload["alert"]
    if channel.kind == "slack":
        title = (
            f"{SLACK_EMOJI[event]} [{alert['severity']}] "
            f"{alert['model']} {alert['version']}: {event}"
        )
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": alert["message"][:2900]}},
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*Monitor*\n{alert['monitor']} ({alert['kind']})"},
                    {"type": "mrkdwn", "text": f"*Cause*\n`{alert['cause']}`"},
                    {"type": "mrkdwn", "text": f"*Alert*\n#{alert['id']} ({alert['state']})"},
                    {"type": "mrkdwn", "text": f"*Check run*\n#{alert['run_id']}"},
                ],
            },
        ]
        if alert.get("comment"):
            blocks.append(
                {
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": f"_{alert['comment'][:2900]}_"}],
                }
            )
        body = json.dumps({"text": title, "blocks": blocks}).encode()
        return Request(channel.url, body, {"content-type": "application/json"})
    body = json.dumps(
        {
            "routing_key": channel.secret,
            "event_action": PAGERDUTY_ACTIONS[event],
            "dedup_key": str(alert["id"]),
            "payload": {
                "summary": alert["message"][:1024],
                "source": f"verity/{alert['model']}/{alert['version']}",
                "severity": PAGERDUTY_SEVERITY[alert["severity"]],
                "component": alert["monitor"],
                "class": alert["kind"],
                "custom_details": {"cause": alert["cause"], **alert["details"]},
            },
        }
    ).encode()
    return Request(
        channel.url or settings.pagerduty_url, body, {"content-type": "application/json"}
    )


def backoff(attempt: int, settings: NotifySettings, retry_after: float | None) -> float:
    base = min(settings.max_backoff_seconds, settings.backoff_seconds * 2 ** (attempt - 1))
    delay = base * (0.5 + random.random() / 2)
    return max(delay, retry_after or 0.0)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def claim_due(database: Database, settings: NotifySettings, limit: int) -> list[int]:
    with database.transaction() as session:
        now = clock.now()
        due = repository.due(
            session, now=now, limit=limit, skip_locked=not is_sqlite(database.engine)
        )
        hold = timedelta(seconds=settings.timeout_seconds * 2 + 5)
        for notification in due:
            notification.next_attempt_at = now + hold
        return [n.id for n in due]


def _record(
    session: Session,
    notification: Notification,
    settings: NotifySettings,
    *,
    status_code: int | None,
    error: str | None,
    duration_ms: float,
    retryable: bool,
    retry_after: float | None,
) -> None:
    now = clock.now()
    notification.attempts += 1
    session.add(
        NotificationAttempt(
            notification_id=notification.id,
            attempt=notification.attempts,
            attempted_at=now,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
        )
    )
    if error is None:
        notification.state = "delivered"
        notification.delivered_at = now
        notification.last_error = None
    elif retryable and notification.attempts < settings.max_attempts:
        notification.last_error = error
        delay = backoff(notification.attempts, settings, retry_after)
        notification.next_attempt_at = now + timedelta(seconds=delay)
    else:
        notification.state = "failed"
        notification.last_error = error


def deliver_one(
    database: Database, settings: NotifySettings, client: httpx.Client, notification_id: int
) -> str:
    with database.transaction(read_only=True) as session:
        notification = session.get(Notification, notification_id)
        assert notification is not None
        channel = session.get(NotificationChannel, notification.channel_id)
        assert channel is not None
        request = build_request(channel, notification, settings, int(clock.now().timestamp()))
        channel_kind = channel.kind
    status_code: int | None = None
    error: str | None = None
    retryable = True
    retry_after: float | None = None
    started = time.perf_counter()
    try:
        destination = check_url(request.url, settings)
        # To the address just checked (with the name in Host and TLS SNI), so a DNS
        # answer that changes in between cannot point the request inside.
        response = client.post(
            destination.pinned_url,
            content=request.body,
            headers={**request.headers, "Host": destination.host_header},
            timeout=settings.timeout_seconds,
            follow_redirects=False,
            extensions=destination.extensions,
        )
        status_code = response.status_code
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}: {response.text[:200]}"
            retryable = status_code in RETRYABLE
            retry_after = _retry_after(response)
    except BlockedDestination as blocked:
        error, retryable = f"blocked: {blocked}", False
    except httpx.HTTPError as failure:
        error = f"{type(failure).__name__}: {failure}"
    if error is not None:
        # A Slack webhook's URL is its secret: never in the stored error or the log.
        error = error.replace(request.url, "<channel url>")
        logger.warning(
            "notification %s to %s channel failed: %s", notification_id, channel_kind, error
        )
    duration_ms = (time.perf_counter() - started) * 1000
    with database.transaction() as session:
        notification = session.get(Notification, notification_id)
        assert notification is not None
        _record(
            session,
            notification,
            settings,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
            retryable=retryable,
            retry_after=retry_after,
        )
        state = notification.state
    outcome = state if state != "pending" else "retrying"
    metrics.notification_deliveries.labels(channel_kind, outcome).inc()
    metrics.notification_delivery_seconds.labels(channel_kind).observe(duration_ms / 1000)
    return state


def deliver_due(
    database: Database, settings: NotifySettings, client: httpx.Client, limit: int = 50
) -> dict[str, int]:
    outcome: dict[str, int] = {}
    for notification_id in claim_due(database, settings, limit):
        state = deliver_one(database, settings, client, notification_id)
        outcome[state] = outcome.get(state, 0) + 1
    return outcome
