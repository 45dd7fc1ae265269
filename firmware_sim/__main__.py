"""Entry point: ``python -m firmware_sim`` runs a simulated event with ``SimSettings()``."""

from __future__ import annotations

import json
import logging
import logging.config
import sys

from pydantic import ValidationError

from firmware_sim.config import SimSettings
from firmware_sim.errors import SimError
from firmware_sim.runner import run_simulation

logger = logging.getLogger("firmware_sim")


def _configure_logging(level: str) -> None:
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"line": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"}},
            "handlers": {
                "stderr": {
                    "class": "logging.StreamHandler",
                    "formatter": "line",
                    "stream": "ext://sys.stderr",
                }
            },
            "root": {"level": level, "handlers": ["stderr"]},
        }
    )


def main() -> int:
    """Settings, logging, run; returns the process exit code."""
    try:
        settings = SimSettings()
    except ValidationError as exc:
        _configure_logging("INFO")
        logger.error("invalid settings (BADGE_* environment): %s", exc)
        return 2
    _configure_logging(settings.log_level)
    try:
        result = run_simulation(settings)
    except SimError as exc:
        logger.error("simulation failed (%s): %s", exc.code, exc.detail)
        return 1
    except KeyboardInterrupt:
        logger.warning("interrupted")
        return 130
    logger.info("summary %s", json.dumps(result.summary))
    return 0 if result.summary["publish_failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
