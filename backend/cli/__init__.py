"""The ``verity`` console script: thin commands that call the domains' services, the
demo seeder, and the supervision of ``verity up``'s processes."""

from backend.cli.app import api_command, app

__all__ = ["api_command", "app"]
