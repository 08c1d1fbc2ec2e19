"""Every ORM table, one module each; importing this package registers them all."""

from backend.models.api_key import ApiKey
from backend.models.audit_event import AuditEvent
from backend.models.audit_payload import AuditPayload
from backend.models.base import Base
from backend.models.idempotency_record import IdempotencyRecord
from backend.models.label import Label
from backend.models.model import Model
from backend.models.model_version import ModelVersion
from backend.models.prediction import Prediction
from backend.models.project import Project
from backend.models.reference_dataset import ReferenceDataset

__all__ = [
    "ApiKey",
    "AuditEvent",
    "AuditPayload",
    "Base",
    "IdempotencyRecord",
    "Label",
    "Model",
    "ModelVersion",
    "Prediction",
    "Project",
    "ReferenceDataset",
]
