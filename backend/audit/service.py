from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from backend import clock
from backend.api.actor import Actor
from backend.audit import repository
from backend.audit.chain import (
    GENESIS_HASH,
    ChainLink,
    VerifyResult,
    canonical_json,
    link_hash,
    sha256_hex,
    verify_chain,
)
from backend.audit.checkpoints import Checkpoint, sign, signature_valid
from backend.audit.coverage import (
    Ledger,
    check_batches,
    check_checkpoints,
    check_digests,
    check_payloads,
)
from backend.audit.records import alert_sha256
from backend.models import AuditCheckpoint, AuditEvent, Label, Prediction


def record(
    session: Session, actor: Actor, action: str, subject: str, payload: dict[str, Any]
) -> AuditEvent:
    """An event that a person or key did, in its project's chain: what every service
    calls for a change made on a caller's behalf."""
    return append(
        session,
        project_id=actor.project_id,
        actor=actor.label,
        action=action,
        subject=subject,
        payload=payload,
    )


def append(
    session: Session,
    *,
    project_id: int,
    actor: str,
    action: str,
    subject: str,
    payload: dict[str, Any],
) -> AuditEvent:
    """Append one event to the project's chain, in the caller's transaction.

    Call it as late as possible in the transaction: on PostgreSQL it holds the
    project's chain lock until commit.
    """
    repository.lock_chain(session, project_id)
    previous = repository.last_event(session, project_id)
    body = canonical_json(payload)
    link = ChainLink(
        project_id=project_id,
        seq=previous.seq + 1 if previous else 1,
        actor=actor,
        action=action,
        subject=subject,
        occurred_at=clock.now(),
        payload_sha256=sha256_hex(body),
        prev_hash=previous.hash if previous else GENESIS_HASH,
        hash="",
    )
    event = AuditEvent(
        project_id=project_id,
        seq=link.seq,
        actor=actor,
        action=action,
        subject=subject,
        occurred_at=link.occurred_at,
        payload_sha256=link.payload_sha256,
        prev_hash=link.prev_hash,
        hash=link_hash(link.prev_hash, link.header()),
    )
    repository.add_event(session, event, body)
    return event


def to_link(event: AuditEvent) -> ChainLink:
    return ChainLink(
        project_id=event.project_id,
        seq=event.seq,
        actor=event.actor,
        action=event.action,
        subject=event.subject,
        occurred_at=event.occurred_at,
        payload_sha256=event.payload_sha256,
        prev_hash=event.prev_hash,
        hash=event.hash,
    )


def verify(
    session: Session,
    *,
    project_id: int,
    trusted_keys: Sequence[str] = (),
    checkpoints: Sequence[Checkpoint] = (),
) -> VerifyResult:
    """The chain, then everything it vouches for: every prediction and label against
    its ingest batch's Merkle root, every check run and alert against its digest (both
    ways), every missing payload against the retention purge that removed it, and the
    chain against the newest stored checkpoint and any ``checkpoints`` handed in
    (each must be signed by one of ``trusted_keys``). Names the first thing that fails
    and, where there is one, the audit event it concerns."""
    held = [to_checkpoint(c) for c in repository.checkpoints(session, project_id)]
    handed = list(checkpoints)
    for checkpoint in [*held, *handed]:
        problem = None
        if checkpoint.project_id != project_id:
            problem = f"a checkpoint of project {checkpoint.project_id} was handed in"
        elif not signature_valid(checkpoint, trusted_keys):
            problem = f"the checkpoint of seq {checkpoint.seq} is not signed by a trusted key"
        if problem is not None:
            return VerifyResult(
                ok=False, events=0, head_seq=0, head_hash=GENESIS_HASH, reason=problem
            )
    ledger = Ledger(wanted_hashes=frozenset(c.seq for c in [*held, *handed]))
    result = verify_chain(
        ledger.tee(
            (to_link(event), body) for event, body in repository.iter_chain(session, project_id)
        )
    )
    if not result.ok:
        return result
    missing, finding = check_payloads(ledger)
    result = replace(result, payloads_missing=missing)
    if finding is None:
        newest, finding = check_checkpoints([*held, *handed], ledger.hashes, result.head_seq)
        result = replace(result, checkpoint_seq=newest)
    if finding is None:
        rows = repository.iter_stored_rows(session, Prediction, project_id)
        checked, finding = check_batches("predictions", ledger, rows)
        result = replace(result, predictions_checked=checked)
    if finding is None:
        rows = repository.iter_stored_rows(session, Label, project_id)
        checked, finding = check_batches("labels", ledger, rows)
        result = replace(result, labels_checked=checked)
    if finding is None:
        checked, finding = check_digests(
            "check run",
            ledger.runs,
            ((run.id, _run_digest(run)) for run in repository.stored_runs(session, project_id)),
        )
        result = replace(result, runs_checked=checked)
    if finding is None:
        alerts = repository.stored_alerts(session, project_id)
        checked, finding = check_digests(
            "alert", ledger.alerts, ((alert.id, alert_sha256(alert)) for alert in alerts)
        )
        result = replace(result, alerts_checked=checked)
    if finding is None:
        return result
    return replace(result, ok=False, reason=finding.reason, first_bad_seq=finding.seq)


# How a check run's record digest is computed belongs to the runs domain, which sits
# above audit: it registers the function at start-up (backend.hooks.install).
_run_record_sha256: Callable[[Any], str] | None = None


def register_run_digest(digest: Callable[[Any], str]) -> None:
    global _run_record_sha256
    _run_record_sha256 = digest


def _run_digest(run: Any) -> str:
    if _run_record_sha256 is None:
        raise RuntimeError(
            "no check-run digest is registered with the audit domain; "
            "call backend.hooks.install() at start-up"
        )
    digest = _run_record_sha256(run)
    # The stored copy of the digest must agree too.
    return digest if run.record_sha256 == digest else f"stored {run.record_sha256}"


def to_checkpoint(row: AuditCheckpoint) -> Checkpoint:
    return Checkpoint(
        project_id=row.project_id,
        seq=row.seq,
        hash=row.hash,
        signed_at=row.signed_at,
        public_key=row.public_key,
        signature=row.signature,
    )


def latest_checkpoint(session: Session, *, project_id: int) -> Checkpoint | None:
    rows = repository.checkpoints(session, project_id)
    return to_checkpoint(rows[0]) if rows else None


def write_checkpoints(session: Session, *, key: Ed25519PrivateKey) -> list[Checkpoint]:
    """A signed checkpoint of every project whose chain grew since its last one."""
    written = []
    now = clock.now()
    for project_id, seq, head_hash in repository.heads(session):
        checkpoint = sign(key, project_id=project_id, seq=seq, hash=head_hash, signed_at=now)
        repository.add_checkpoint(
            session,
            AuditCheckpoint(
                project_id=project_id,
                seq=seq,
                hash=head_hash,
                signed_at=now,
                public_key=checkpoint.public_key,
                signature=checkpoint.signature,
            ),
        )
        written.append(checkpoint)
    return written


def list_events(
    session: Session,
    *,
    project_id: int,
    action: str | None = None,
    actor: str | None = None,
    subject: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_seq: int | None = None,
    limit: int = 100,
    before_seq: int | None = None,
    newest_first: bool = False,
) -> Sequence[tuple[AuditEvent, str | None]]:
    return repository.list_events(
        session,
        project_id=project_id,
        action=action,
        actor=actor,
        subject=subject,
        since=since,
        until=until,
        after_seq=after_seq,
        limit=limit,
        before_seq=before_seq,
        newest_first=newest_first,
    )
