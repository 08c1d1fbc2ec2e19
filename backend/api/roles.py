"""Roles and what each may do. One table, so the authorization matrix is testable."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    INGEST = "ingest"
    VIEWER = "viewer"
    COMPLIANCE = "compliance"
    ADMIN = "admin"
    # Reviews queued predictions, and reads what reviewing needs; nothing more.
    REVIEWER = "reviewer"


class Permission(StrEnum):
    INGEST_WRITE = "ingest:write"
    CATALOG_READ = "catalog:read"
    CATALOG_WRITE = "catalog:write"
    PREDICTIONS_READ = "predictions:read"
    AUDIT_READ = "audit:read"
    KEYS_MANAGE = "keys:manage"
    MONITORS_READ = "monitors:read"
    MONITORS_WRITE = "monitors:write"
    ALERTS_MANAGE = "alerts:manage"
    CHANNELS_MANAGE = "channels:manage"
    # Release governance: read lifecycle and gates; propose, promote and roll back;
    # approve or reject (the second person of the two-person rule).
    GOVERNANCE_READ = "governance:read"
    GOVERNANCE_PROPOSE = "governance:propose"
    GOVERNANCE_APPROVE = "governance:approve"
    # Human oversight: model servers read a version's serving state and report their
    # local breaker; compliance and admin stop, trip and restore versions.
    SERVING_READ = "serving:read"
    SERVING_CONTROL = "serving:control"
    # Incidents (Art. 73): read them; open, classify and report them.
    INCIDENTS_READ = "incidents:read"
    INCIDENTS_MANAGE = "incidents:manage"
    # The review queue: claim, read and decide items.
    REVIEW = "review:decide"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    # A model server's key: it writes predictions and labels and reads nothing back.
    Role.INGEST: frozenset({Permission.INGEST_WRITE, Permission.SERVING_READ}),
    Role.VIEWER: frozenset(
        {
            Permission.CATALOG_READ,
            Permission.PREDICTIONS_READ,
            Permission.MONITORS_READ,
            Permission.GOVERNANCE_READ,
            Permission.SERVING_READ,
            Permission.INCIDENTS_READ,
        }
    ),
    # Compliance officers review and sign off alerts; they do not reconfigure checks.
    Role.COMPLIANCE: frozenset(
        {
            Permission.CATALOG_READ,
            Permission.PREDICTIONS_READ,
            Permission.AUDIT_READ,
            Permission.MONITORS_READ,
            Permission.ALERTS_MANAGE,
            Permission.GOVERNANCE_READ,
            Permission.GOVERNANCE_APPROVE,
            Permission.SERVING_READ,
            Permission.SERVING_CONTROL,
            Permission.INCIDENTS_READ,
            Permission.INCIDENTS_MANAGE,
            Permission.REVIEW,
        }
    ),
    Role.REVIEWER: frozenset({Permission.REVIEW}),
    Role.ADMIN: frozenset(Permission),
}
