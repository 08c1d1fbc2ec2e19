from __future__ import annotations

from dataclasses import dataclass

from backend.api.roles import ROLE_PERMISSIONS, Permission, Role


@dataclass(frozen=True)
class Actor:
    """Who is acting, within which project: an API key, or an operator at the CLI."""

    project_id: int
    role: Role
    label: str
    key_id: int | None = None

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]


def cli_actor(project_id: int, user: str) -> Actor:
    return Actor(project_id=project_id, role=Role.ADMIN, label=f"cli:{user}")
