import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from backend.config import NotifySettings
from backend.main import create_app
from backend.models import Notification, NotificationAttempt, NotificationChannel
from backend.notifications import signing
from backend.notifications.delivery import build_request, deliver_due
from backend.notifications.outbound import BlockedDestination, check_url
from tests import stub_server
from tests.factories import over_budget_model, webhook

ALERT = {
    "id": 42,
    "state": "open",
    "severity": "critical",
    "cause": "bias:1:sex",
    "message": "Bias across sex: least selected group sex=F",
    "details": {"worst_group": {"sex": "F"}},
    "model": "loans",
    "version": "v3",
    "monitor": "bias",
    "kind": "bias",
    "run_id": 7,
    "opened_at": "2026-11-22T10:00:00+00:00",
    "acknowledged_by": None,
    "comment": None,
}


def _notification(event="opened"):
    return Notification(
        payload={"type": f"alert.{event}", "alert": ALERT}, event=event, message_id="msg_1"
    )


def test_standard_webhooks_signature_round_trip_and_tamper():
    secret = signing.new_secret()
    body = b'{"a":1}'
    headers = signing.headers(secret, "msg_1", 1_700_000_000, body)
    assert signing.verify(secret, headers, body)
    assert not signing.verify(secret, headers, b'{"a":2}')
    assert not signing.verify(signing.new_secret(), headers, body)


def test_webhook_request_is_signed():
    secret = signing.new_secret()
    channel = NotificationChannel(kind="webhook", url="https://example.com/h", secret=secret)
    request = build_request(channel, _notification(), NotifySettings(), 1_700_000_000)
    assert request.headers["webhook-id"] == "msg_1"
    assert signing.verify(secret, request.headers, request.body)
    assert json.loads(request.body)["data"]["cause"] == "bias:1:sex"


def test_slack_blocks_and_pagerduty_events():
    slack = build_request(
        NotificationChannel(kind="slack", url="https://hooks.slack.com/x", secret=None),
        _notification(),
        NotifySettings(),
        0,
    )
    blocks = json.loads(slack.body)["blocks"]
    assert blocks[0]["type"] == "header"
    assert "sex=F" in blocks[1]["text"]["text"]
    for event, action in (("opened", "trigger"), ("resolved", "resolve")):
        pd = build_request(
            NotificationChannel(kind="pagerduty", url="", secret="R0UTINGKEY"),
            _notification(event),
            NotifySettings(),
            0,
        )
        body = json.loads(pd.body)
        assert pd.url == "https://events.pagerduty.com/v2/enqueue"
        assert body["event_action"] == action
        assert body["dedup_key"] == "42"
        assert body["routing_key"] == "R0UTINGKEY"
        assert body["payload"]["severity"] == "critical"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "file:///etc/passwd",
        "http://user:pw@93.184.215.14/",
        # Finding 6 of the outside attack: all of these were accepted.
        "http://100.100.100.200/latest/meta-data/",  # shared address space 100.64/10
        "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
        "http://[2002:a9fe:a9fe::]/",  # 6to4 of 169.254.169.254
        "http://[fec0::1]/",  # IPv6 site-local
        "http://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of the metadata service
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo
        "http://224.0.0.1/",  # multicast
        "http://0.0.0.0/",
        "http://198.18.0.1/",  # benchmarking range
    ],
)
def test_internal_and_odd_destinations_are_refused(url):
    with pytest.raises(BlockedDestination):
        check_url(url, NotifySettings())


def test_allow_list_opens_an_internal_network():
    check_url("https://93.184.215.14/hook", NotifySettings())
    check_url("http://10.1.2.3/hook", NotifySettings(allowed_networks=["10.0.0.0/8"]))
    check_url("http://hooks.internal/x", NotifySettings(allowed_hosts=["hooks.internal"]))


def test_names_are_checked_on_every_address_they_resolve_to():
    def resolver(answers):
        return lambda host, port: answers

    public = NotifySettings()
    assert check_url(
        "https://hooks.example/x", public, resolver=resolver(["93.184.215.14"])
    ).address
    with pytest.raises(BlockedDestination, match="internal address"):
        check_url(
            "https://hooks.example/x", public, resolver=resolver(["93.184.215.14", "10.0.0.1"])
        )
    with pytest.raises(BlockedDestination, match="resolves to no address"):
        check_url("https://hooks.example/x", public, resolver=resolver([]))


def test_the_address_checked_is_the_address_connected_to(database, settings, tenant, monkeypatch):
    """DNS rebinding: the delivery connects to the address its check resolved, with
    the name in Host; it never resolves the name a second time. The name here exists
    only in the patched resolver, so a second resolution would fail the delivery."""
    import httpx

    from backend.notifications import outbound

    receiver = stub_server.StubServer(lambda n: (204, {}, b""))
    port = int(receiver.base.rsplit(":", 1)[1])
    lookups = []

    def resolver(host, port):
        lookups.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(outbound, "resolve", resolver)
    notify = NotifySettings(allowed_networks=["127.0.0.1/32"])
    local = settings.model_copy(update={"notify": notify})
    url = f"http://hooks.example:{port}/hook"
    with TestClient(create_app(local)) as client:
        monitor, _ = over_budget_model(client, tenant, channels=[webhook(url)])
        client.post(f"/v1/monitors/{monitor['id']}/run", headers=tenant.headers())
    lookups.clear()
    with httpx.Client() as http:
        assert deliver_due(database, notify, http) == {"delivered": 1}
    assert lookups == ["hooks.example"]  # once: the check's
    assert receiver.calls == 1
    assert receiver.hosts == [f"hooks.example:{port}"]
    receiver.server.shutdown()


def test_the_api_refuses_a_webhook_to_the_metadata_service(client, tenant):
    response = client.post(
        "/v1/channels",
        json={"name": "evil", "kind": "webhook", "url": "http://169.254.169.254/latest"},
        headers=tenant.headers(),
    )
    assert response.status_code == 422
    assert "internal address" in response.json()["detail"]


def test_retries_back_off_honour_retry_after_and_record_every_attempt(
    settings, tenant, database, manual_clock
):
    import httpx

    flaky = stub_server.flaky()
    notify = NotifySettings(allowed_networks=["127.0.0.0/8"])
    local = settings.model_copy(update={"notify": notify})
    with TestClient(create_app(local)) as client:
        monitor, _ = over_budget_model(client, tenant, channels=[webhook(flaky.url)])
        client.post(f"/v1/monitors/{monitor['id']}/run", headers=tenant.headers())
    with httpx.Client() as http:
        first = deliver_due(database, notify, http)
        assert first == {"pending": 1}
        with database.transaction() as session:
            pending = session.scalars(
                select(Notification).where(Notification.project_id == tenant.project_id)
            ).one()
            wait = (pending.next_attempt_at - manual_clock.now()).total_seconds()
            assert wait == 30  # Retry-After: 30 outweighs the first backoff
        manual_clock.advance(timedelta(seconds=29))
        assert deliver_due(database, notify, http) == {}  # not due yet
        manual_clock.advance(timedelta(seconds=1))
        assert deliver_due(database, notify, http) == {"delivered": 1}
    with database.transaction(read_only=True) as session:
        attempts = session.scalars(
            select(NotificationAttempt)
            .where(NotificationAttempt.notification_id == pending.id)
            .order_by(NotificationAttempt.attempt)
        ).all()
        assert [(a.attempt, a.status_code) for a in attempts] == [(1, 503), (2, 204)]
    flaky.server.shutdown()
