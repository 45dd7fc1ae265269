"""Logging for the command line's entry points: the only place handlers are configured."""

from __future__ import annotations

import logging.config


def configure_logging(level: str = "INFO") -> None:
    """Send log records to stderr, one line each, with time, level and logger."""
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "line": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
            },
            "handlers": {
                "stderr": {
                    "class": "logging.StreamHandler",
                    "formatter": "line",
                    "stream": "ext://sys.stderr",
                },
            },
            "root": {"level": level.upper(), "handlers": ["stderr"]},
            "loggers": {"httpx2": {"level": "WARNING"}, "httpcore2": {"level": "WARNING"}},
        }
    )
