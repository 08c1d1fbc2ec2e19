"""The dashboard's only way to the data: Verity's HTTP API, with the signed-in key.
It never imports ``backend.models`` nor opens the database."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

import httpx
from pydantic import TypeAdapter, ValidationError

from dashboard.schemas import (
    AlertPage,
    AlertRead,
    AuditPage,
    CheckRunRead,
    EvaluationRead,
    Lifecycle,
    ModelRead,
    ModelStatus,
    MonitorRead,
    PredictionExplanation,
    PredictionRead,
    PublicKey,
    ReferenceRead,
    Series,
    TransitionRead,
    VerifyRead,
    VersionRead,
    Volume,
    WhoAmI,
)


class ApiError(Exception):
    """An RFC 9457 problem from the API, or no answer at all."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(f"{title}: {detail}" if detail else title)
        self.status = status
        self.title = title
        self.detail = detail


class VerityApi:
    def __init__(
        self,
        url: str,
        api_key: str,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {api_key}"},
            transport=transport,
        )

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(0, "Verity is unreachable", f"{self.url}: {exc}") from exc
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {}
            raise ApiError(
                response.status_code,
                str(problem.get("title", f"HTTP {response.status_code}")),
                str(problem.get("detail", response.text[:300])),
            )
        return response

    def get(self, path: str, **params: Any) -> Any:
        clean = {k: _param(v) for k, v in params.items() if v is not None and v != ""}
        return self._request("GET", path, params=clean).json()

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._request("POST", path, json=body).json()

    def _typed(self, kind: Any, payload: Any) -> Any:
        """``payload`` checked against the TypedDict (or list of them) ``kind``."""
        try:
            return _adapter(kind).validate_python(payload)
        except ValidationError as exc:
            raise ApiError(
                0,
                "Unexpected answer from Verity",
                f"{kind}: {exc.error_count()} field(s) differ, first "
                f"{'.'.join(map(str, exc.errors()[0]['loc']))}: {exc.errors()[0]['msg']}",
            ) from exc

    # --- what the pages read -------------------------------------------------------------

    def whoami(self) -> WhoAmI:
        typed: WhoAmI = self._typed(WhoAmI, self.get("/v1/whoami"))
        return typed

    def models(self) -> list[ModelRead]:
        typed: list[ModelRead] = self._typed(list[ModelRead], self.get("/v1/models"))
        return typed

    def versions(self, model: str) -> list[VersionRead]:
        found = self.get(f"/v1/models/{model}/versions")
        typed: list[VersionRead] = self._typed(list[VersionRead], found)
        return typed

    def status(self, model: str) -> ModelStatus:
        typed: ModelStatus = self._typed(ModelStatus, self.get(f"/v1/models/{model}/status"))
        return typed

    def monitors(self, model: str, version: str) -> list[MonitorRead]:
        found = self.get(f"/v1/models/{model}/versions/{version}/monitors")
        typed: list[MonitorRead] = self._typed(list[MonitorRead], found)
        return typed

    def series(self, monitor_id: int, limit: int = 200, segment: str | None = None) -> Series:
        params: dict[str, Any] = {"limit": limit}
        if segment is not None:
            params["segment"] = segment
        found = self.get(f"/v1/monitors/{monitor_id}/series", **params)
        typed: Series = self._typed(Series, found)
        return typed

    def run(self, run_id: int) -> CheckRunRead:
        typed: CheckRunRead = self._typed(CheckRunRead, self.get(f"/v1/runs/{run_id}"))
        return typed

    def lifecycle(self, model: str) -> Lifecycle:
        typed: Lifecycle = self._typed(Lifecycle, self.get(f"/v1/models/{model}/lifecycle"))
        return typed

    def latest_gate(self, model: str, version: str) -> EvaluationRead | None:
        """The latest gate evaluation; None when the version has none yet."""
        try:
            found = self.get(f"/v1/models/{model}/versions/{version}/gate")
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        typed: EvaluationRead = self._typed(EvaluationRead, found)
        return typed

    def evaluate_gate(self, model: str, version: str) -> EvaluationRead:
        found = self.post(f"/v1/models/{model}/versions/{version}/gate")
        typed: EvaluationRead = self._typed(EvaluationRead, found)
        return typed

    def transition(self, model: str, version: str, body: dict[str, Any]) -> TransitionRead:
        found = self.post(f"/v1/models/{model}/versions/{version}/transitions", body)
        typed: TransitionRead = self._typed(TransitionRead, found)
        return typed

    def rollback(self, model: str, person: str, reason: str) -> list[TransitionRead]:
        found = self.post(f"/v1/models/{model}:rollback", {"person": person, "reason": reason})
        typed: list[TransitionRead] = self._typed(list[TransitionRead], found)
        return typed

    def serving_state(self, model: str, version: str) -> dict[str, Any]:
        found: dict[str, Any] = self.get(f"/v1/models/{model}/versions/{version}/serving-state")
        return found

    def set_serving_state(
        self, model: str, version: str, state: str, person: str, reason: str
    ) -> dict[str, Any]:
        found: dict[str, Any] = self.post(
            f"/v1/models/{model}/versions/{version}/serving-state",
            {"state": state, "person": person, "reason": reason},
        )
        return found

    def claim_review(self, model: str, version: str) -> dict[str, Any] | None:
        answer = self._request(
            "POST", "/v1/review/claim", json={"model": model, "version": version}
        )
        return None if answer.status_code == 204 else dict(answer.json())

    def review_explanation(self, item_id: int) -> dict[str, Any]:
        found: dict[str, Any] = self.get(f"/v1/review/items/{item_id}/explanation")
        return found

    def decide_review(self, item_id: int, body: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = self.post(f"/v1/review/items/{item_id}/decision", body)
        return found

    def review_health(self, model: str, version: str) -> dict[str, Any]:
        found: dict[str, Any] = self.get(f"/v1/models/{model}/versions/{version}/review-queue")
        return found

    def incidents(self) -> list[dict[str, Any]]:
        found = self.get("/v1/incidents", limit=200)
        return list(found["items"])

    def incident_report(self, incident_id: int) -> bytes:
        return self._request("GET", f"/v1/incidents/{incident_id}/report.pdf").content

    def incident_action(self, incident_id: int, path: str, body: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = self.post(f"/v1/incidents/{incident_id}/{path}", body)
        return found

    def report(self, run_id: int) -> bytes:
        return self._request("GET", f"/v1/runs/{run_id}/report").content

    def volume(self, model: str, start: datetime, end: datetime, bucket: str) -> Volume:
        found = self.get(f"/v1/models/{model}/volume", start=start, end=end, bucket=bucket)
        typed: Volume = self._typed(Volume, found)
        return typed

    def alerts(self, **filters: Any) -> AlertPage:
        typed: AlertPage = self._typed(AlertPage, self.get("/v1/alerts", **filters))
        return typed

    def alert_action(self, alert_id: int, action: str, comment: str) -> AlertRead:
        found = self.post(f"/v1/alerts/{alert_id}/{action}", {"comment": comment})
        typed: AlertRead = self._typed(AlertRead, found)
        return typed

    def audit(self, **filters: Any) -> AuditPage:
        typed: AuditPage = self._typed(AuditPage, self.get("/v1/audit", **filters))
        return typed

    def verify(self) -> VerifyRead:
        typed: VerifyRead = self._typed(VerifyRead, self.get("/v1/audit/verify"))
        return typed

    def prediction(self, event_id: str) -> PredictionRead:
        found = self.get(f"/v1/predictions/{event_id}")
        typed: PredictionRead = self._typed(PredictionRead, found)
        return typed

    def explanation(self, event_id: str, reference: str | None = None) -> PredictionExplanation:
        found = self.get(f"/v1/predictions/{event_id}/explanation", reference=reference)
        typed: PredictionExplanation = self._typed(PredictionExplanation, found)
        return typed

    def references(self, model: str, version: str) -> list[ReferenceRead]:
        found = self.get(f"/v1/models/{model}/versions/{version}/references")
        typed: list[ReferenceRead] = self._typed(list[ReferenceRead], found)
        return typed

    def evidence(
        self, model: str, version: str, start: datetime, end: datetime
    ) -> tuple[bytes, str, str]:
        response = self._request(
            "POST",
            f"/v1/models/{model}/versions/{version}/evidence",
            json={"start": start.isoformat(), "end": end.isoformat()},
        )
        disposition = response.headers.get("content-disposition", "")
        name = disposition.split("filename=")[-1].strip('"') or "evidence.zip"
        return response.content, name, response.headers.get("x-manifest-sha256", "")

    def public_key(self) -> PublicKey:
        typed: PublicKey = self._typed(PublicKey, self.get("/v1/evidence/public-key"))
        return typed


@functools.cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def _param(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
