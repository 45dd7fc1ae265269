"""``python -m gateway``: settings -> logging -> run until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging.config
import signal

from gateway.config import GatewaySettings
from gateway.service import run_gateway


def configure_logging(level: str) -> None:
    """Log to stderr with timestamps at ``level``."""
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
            "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
            "root": {"level": level.upper(), "handlers": ["stderr"]},
        }
    )


async def _main(settings: GatewaySettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_gateway(settings, stop=stop)


def main() -> None:
    """Run the gateway with settings from the environment (``GATEWAY_*``)."""
    settings = GatewaySettings()
    configure_logging(settings.log_level)
    asyncio.run(_main(settings))


if __name__ == "__main__":
    main()
