"""``python -m server``: settings from the environment, then uvicorn."""

from __future__ import annotations

import uvicorn
from pydantic import ValidationError

from server.config import ServerSettings
from server.main import create_app


def main() -> None:
    """Build ``ServerSettings()`` from ``SERVER_*`` variables and serve the app with uvicorn."""
    try:
        settings = ServerSettings()  # organizer_token comes from SERVER_ORGANIZER_TOKEN
    except ValidationError as exc:
        raise SystemExit(f"invalid server settings:\n{exc}") from exc
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
    )


if __name__ == "__main__":
    main()
