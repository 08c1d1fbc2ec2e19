"""Every ORM table, one module each; importing this package registers them all."""

from backend.models.alert import Alert
from backend.models.api_key import ApiKey
from backend.models.audit_checkpoint import AuditCheckpoint
from backend.models.audit_event import AuditEvent
from backend.models.audit_payload import AuditPayload
from backend.models.base import Base
from backend.models.check_run import CheckRun
from backend.models.gate_evaluation import GateEvaluation
from backend.models.gate_policy import GatePolicy
from backend.models.idempotency_record import IdempotencyRecord
from backend.models.incident import Incident, IncidentEvent
from backend.models.inference_half import InferenceHalf
from backend.models.ingest_batch import IngestBatch
from backend.models.job import Job
from backend.models.label import Label
from backend.models.model import Model
from backend.models.model_card import ModelCard
from backend.models.model_version import ModelVersion
from backend.models.monitor import Monitor
from backend.models.notification import Notification, NotificationAttempt
from backend.models.notification_channel import NotificationChannel
from backend.models.prediction import Prediction
from backend.models.project import Project
from backend.models.reference_dataset import ReferenceDataset
from backend.models.review import ReviewItem, ReviewPolicy
from backend.models.serving_state import ServingState
from backend.models.version_transition import VersionTransition

__all__ = [
    "Alert",
    "ApiKey",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditPayload",
    "Base",
    "CheckRun",
    "GateEvaluation",
    "GatePolicy",
    "IdempotencyRecord",
    "Incident",
    "IncidentEvent",
    "InferenceHalf",
    "IngestBatch",
    "Job",
    "Label",
    "Model",
    "ModelCard",
    "ModelVersion",
    "Monitor",
    "Notification",
    "NotificationAttempt",
    "NotificationChannel",
    "Prediction",
    "Project",
    "ReferenceDataset",
    "ReviewItem",
    "ReviewPolicy",
    "ServingState",
    "VersionTransition",
]
