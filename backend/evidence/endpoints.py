from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from backend.api.dependencies import AuditReader
from backend.audit import keys
from backend.audit import service as audit_service
from backend.catalog import repository as catalog_repository
from backend.db import DbSession
from backend.errors import NotFound
from backend.evidence.pack import build
from backend.http import JsonRoute
from backend.ingest.schemas import UtcDateTime

router = APIRouter(prefix="/v1", tags=["evidence"], route_class=JsonRoute)


class EvidenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: UtcDateTime = Field(description="Inclusive.")
    end: UtcDateTime = Field(description="Exclusive.")

    @model_validator(mode="after")
    def _ordered(self) -> EvidenceRequest:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class PublicKey(BaseModel):
    algorithm: str
    public_key: str = Field(description="The raw 32-byte key, base64.")
    pem: str


@router.get("/evidence/public-key", response_model=PublicKey)
def public_key(request: Request, actor: AuditReader) -> PublicKey:
    """The key evidence packs are signed with: pin it when verifying a pack."""
    key = keys.signing_key(request.app.state.settings)
    return PublicKey(
        algorithm="Ed25519", public_key=keys.public_key_base64(key), pem=keys.public_key_pem(key)
    )


@router.post(
    "/models/{model}/versions/{version}/evidence",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}, "description": "The evidence pack."}},
)
def export_evidence(
    model: str,
    version: str,
    period: EvidenceRequest,
    request: Request,
    session: DbSession,
    actor: AuditReader,
) -> Response:
    """A signed ZIP of what Verity saw of this version over the period: PDF summary,
    CSVs of check runs, alerts and audit events, manifest and signature. The export
    itself is audited."""
    found = catalog_repository.find_versions(
        session, project_id=actor.project_id, pairs={(model, version)}
    )
    if (model, version) not in found:
        raise NotFound(f"no model '{model}' with version '{version}' in this project")
    found_model, found_version = found[(model, version)]
    pack = build(
        session,
        project_id=actor.project_id,
        model=found_model,
        version=found_version,
        start=period.start,
        end=period.end,
        key=keys.signing_key(request.app.state.settings),
        exported_by=actor.label,
        trusted_keys=keys.trusted_public_keys(request.app.state.settings),
    )
    audit_service.record(
        session,
        actor,
        "evidence.export",
        f"{model}/{version}",
        {
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "manifest_sha256": pack.manifest_sha256,
        },
    )
    return Response(
        content=pack.data,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{pack.filename}"',
            "X-Manifest-SHA256": pack.manifest_sha256,
        },
    )
