"""The dashboard's only way to the data: Verity's HTTP API, with the signed-in key.
It never imports ``backend.models`` nor opens the database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx


class ApiError(Exception):
    """An RFC 9457 problem from the API, or no answer at all."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(f"{title}: {detail}" if detail else title)
        self.status = status
        self.title = title
        self.detail = detail


class VerityApi:
    def __init__(self, url: str, api_key: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {api_key}"},
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

    # --- what the pages read -------------------------------------------------------------

    def whoami(self) -> dict[str, Any]:
        me: dict[str, Any] = self.get("/v1/whoami")
        return me

    def models(self) -> list[dict[str, Any]]:
        return list(self.get("/v1/models"))

    def versions(self, model: str) -> list[dict[str, Any]]:
        return list(self.get(f"/v1/models/{model}/versions"))

    def status(self, model: str) -> dict[str, Any]:
        found: dict[str, Any] = self.get(f"/v1/models/{model}/status")
        return found

    def monitors(self, model: str, version: str) -> list[dict[str, Any]]:
        return list(self.get(f"/v1/models/{model}/versions/{version}/monitors"))

    def series(self, monitor_id: int, limit: int = 200) -> dict[str, Any]:
        found: dict[str, Any] = self.get(f"/v1/monitors/{monitor_id}/series", limit=limit)
        return found

    def run(self, run_id: int) -> dict[str, Any]:
        found: dict[str, Any] = self.get(f"/v1/runs/{run_id}")
        return found

    def report(self, run_id: int) -> bytes:
        return self._request("GET", f"/v1/runs/{run_id}/report").content

    def volume(self, model: str, start: datetime, end: datetime, bucket: str) -> dict[str, Any]:
        found: dict[str, Any] = self.get(
            f"/v1/models/{model}/volume", start=start, end=end, bucket=bucket
        )
        return found

    def alerts(self, **filters: Any) -> dict[str, Any]:
        found: dict[str, Any] = self.get("/v1/alerts", **filters)
        return found

    def alert_action(self, alert_id: int, action: str, comment: str) -> dict[str, Any]:
        found: dict[str, Any] = self.post(f"/v1/alerts/{alert_id}/{action}", {"comment": comment})
        return found

    def audit(self, **filters: Any) -> dict[str, Any]:
        found: dict[str, Any] = self.get("/v1/audit", **filters)
        return found

    def verify(self) -> dict[str, Any]:
        found: dict[str, Any] = self.get("/v1/audit/verify")
        return found

    def prediction(self, event_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.get(f"/v1/predictions/{event_id}")
        return found

    def explanation(self, event_id: str, reference: str | None = None) -> dict[str, Any]:
        found: dict[str, Any] = self.get(
            f"/v1/predictions/{event_id}/explanation", reference=reference
        )
        return found

    def references(self, model: str, version: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get(f"/v1/models/{model}/versions/{version}/references")
        return found

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

    def public_key(self) -> dict[str, Any]:
        found: dict[str, Any] = self.get("/v1/evidence/public-key")
        return found


def _param(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
