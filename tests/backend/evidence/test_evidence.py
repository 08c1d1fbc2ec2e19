"""Evidence packs: built from real check runs, alerts and the audit chain; verified
offline by the CLI; any changed byte, removed file or swapped key fails."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from backend.api.roles import Role
from backend.cli import app as cli
from backend.evidence.pdf import SECTIONS
from backend.evidence.verify import MANIFEST, SIGNATURE, canonical_zip
from tests.factories import OVER_BUDGET_MONITOR, Tenant, record, register_model
from tests.support.timeline import at, window

PERIOD = window(at(0), at(days=2))


@pytest.fixture
def pack(client: TestClient, tenant: Tenant) -> tuple[bytes, str]:
    """A pack over a period with one run, one acknowledged alert; and the pinned key."""
    register_model(client, tenant)
    admin = tenant.headers()
    posted = client.post(
        "/v1/predictions", json={"records": [record(i) for i in range(20)]}, headers=admin
    )
    assert posted.status_code == 200, posted.text
    monitor = client.post(
        "/v1/models/churn/versions/v1/monitors", json=OVER_BUDGET_MONITOR, headers=admin
    ).json()
    assert client.post(f"/v1/monitors/{monitor['id']}/run", headers=admin).status_code == 200
    alert = client.get("/v1/alerts", headers=admin).json()["items"][0]
    acknowledged = client.post(
        f"/v1/alerts/{alert['id']}/acknowledge",
        json={"comment": "budget raised with finance"},
        headers=tenant.headers(Role.COMPLIANCE),
    )
    assert acknowledged.status_code == 200, acknowledged.text
    exported = client.post(
        "/v1/models/churn/versions/v1/evidence",
        json=PERIOD,
        headers=tenant.headers(Role.COMPLIANCE),
    )
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"] == "application/zip"
    name = f"evidence-churn-v1-{at(0):%Y%m%d}-{at(days=2):%Y%m%d}.zip"
    assert name in exported.headers["content-disposition"]
    key = client.get("/v1/evidence/public-key", headers=tenant.headers(Role.COMPLIANCE)).json()
    return exported.content, key["public_key"]


def verify(tmp_path: Path, data: bytes, *args: str) -> Any:
    path = tmp_path / "pack.zip"
    path.write_bytes(data)
    return CliRunner().invoke(cli, ["audit", "verify-pack", str(path), *args])


def rebuilt(data: bytes, change: Any) -> bytes:
    archive = zipfile.ZipFile(io.BytesIO(data))
    entries = {name: archive.read(name) for name in archive.namelist()}
    change(entries)
    return canonical_zip(list(entries.items()))


def test_a_pack_holds_the_evidence_and_verifies_offline(pack, tmp_path):
    data, public_key = pack
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert sorted(archive.namelist()) == sorted(
        [
            "alerts.csv",
            "audit_events.csv",
            "check_runs.csv",
            "declared_performance.csv",
            "gate_evaluations.csv",
            "incidents.csv",
            "summary.pdf",
            "transitions.csv",
            MANIFEST,
            SIGNATURE,
        ]
    )
    manifest = json.loads(archive.read(MANIFEST))
    assert manifest["counts"]["check_runs"] == 1
    assert manifest["counts"]["alerts"] == 1
    assert manifest["checkpoint"]["chain_verified"] is True
    alerts = archive.read("alerts.csv").decode()
    assert "budget raised with finance" in alerts
    result = verify(tmp_path, data, "--public-key", public_key)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok")
    # Without a key to trust, the CLI refuses rather than vouch for the signer.
    assert verify(tmp_path, data).exit_code == 1


def test_the_pdf_renders_with_its_sections(pack, tmp_path):
    data, _ = pack
    pdf = tmp_path / "summary.pdf"
    pdf.write_bytes(zipfile.ZipFile(io.BytesIO(data)).read("summary.pdf"))
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    # The first page is full; any later one holds at least a section.
    assert pages and pages[0].stat().st_size > 10_000
    assert all(p.stat().st_size > 2_000 for p in pages)
    assert pages[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    words = " ".join(text.split())
    for section in SECTIONS:
        assert section in words
    assert "Evidence pack: churn v1" in words
    assert "budget raised with finance" in words


@pytest.mark.parametrize(
    "tamper",
    ["csv_byte", "removed_file", "added_file", "raw_byte", "header_byte", "checkpoint"],
)
def test_any_change_fails_verification(pack, tmp_path, tamper):
    data, public_key = pack
    if tamper == "csv_byte":

        def edit(entries: dict[str, bytes]) -> None:
            body = bytearray(entries["check_runs.csv"])
            body[-5] ^= 0x01
            entries["check_runs.csv"] = bytes(body)

        changed = rebuilt(data, edit)
        expected = "check_runs.csv"
    elif tamper == "removed_file":
        changed = rebuilt(data, lambda entries: entries.pop("alerts.csv"))
        expected = "alerts.csv: listed in the manifest, missing"
    elif tamper == "added_file":
        changed = rebuilt(data, lambda entries: entries.update({"note.txt": b"all fine"}))
        expected = "note.txt: in the pack but not in the manifest"
    elif tamper == "raw_byte":
        body = bytearray(data)
        body[len(body) // 2] ^= 0x20
        changed = bytes(body)
        expected = ""
    elif tamper == "header_byte":
        body = bytearray(data)
        body[10] ^= 0x01  # the first entry's modification time
        changed = bytes(body)
        expected = ""
    else:

        def forge_chain(entries: dict[str, bytes]) -> None:
            lines = entries["audit_events.csv"].decode().splitlines()
            entries["audit_events.csv"] = ("\n".join(lines[:-1]) + "\n").encode()

        changed = rebuilt(data, forge_chain)
        expected = "audit_events.csv"
    result = verify(tmp_path, changed, "--public-key", public_key)
    assert result.exit_code == 1
    assert expected in result.output


def test_a_pack_re_signed_with_another_key_fails_against_the_pinned_key(pack, tmp_path):
    data, public_key = pack
    forger = Ed25519PrivateKey.generate()

    def re_sign(entries: dict[str, bytes]) -> None:
        body = bytearray(entries["check_runs.csv"])
        body[-5] ^= 0x01
        entries["check_runs.csv"] = bytes(body)
        manifest = json.loads(entries[MANIFEST])
        manifest["files"]["check_runs.csv"] = __import__("hashlib").sha256(body).hexdigest()
        raw = forger.public_key().public_bytes_raw()
        manifest["signing_key"] = base64.b64encode(raw).decode()
        entries[MANIFEST] = json.dumps(manifest, indent=2, sort_keys=True).encode()
        entries[SIGNATURE] = base64.b64encode(forger.sign(entries[MANIFEST])) + b"\n"

    forged = rebuilt(data, re_sign)
    pinned = verify(tmp_path, forged, "--public-key", public_key)
    assert pinned.exit_code == 1
    assert "signature does not verify" in pinned.output
    # Consistent in itself: only the pinned key tells the forgery apart.
    assert verify(tmp_path, forged, "--trust-embedded-key").exit_code == 0


def test_evidence_needs_the_audit_permission_and_a_valid_period(client, tenant):
    register_model(client, tenant)
    viewer = client.post(
        "/v1/models/churn/versions/v1/evidence", json=PERIOD, headers=tenant.headers(Role.VIEWER)
    )
    assert viewer.status_code == 403
    backwards = client.post(
        "/v1/models/churn/versions/v1/evidence",
        json={"start": PERIOD["end"], "end": PERIOD["start"]},
        headers=tenant.headers(),
    )
    assert backwards.status_code == 422
    missing = client.post(
        "/v1/models/churn/versions/v9/evidence", json=PERIOD, headers=tenant.headers()
    )
    assert missing.status_code == 404
