"""Child processes of the demo: started with their own log file, always stopped."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2

logger = logging.getLogger(__name__)


class ChildError(RuntimeError):
    """A child process died or did not become ready."""


class Child:
    """One ``python -m inperson <command>`` process with stdout/stderr in ``log``."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, stdout: int | None = None) -> None:
        """Start the process in its own session (so stopping it stops its children too)."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "inperson", *self.args],
                env={**os.environ, **self.env},
                stdout=stdout if stdout is not None else log,
                stderr=log,
                start_new_session=True,
            )
        logger.info("started %s pid=%d", self.name, self.process.pid)

    def check_alive(self) -> None:
        """Raise ``ChildError`` with the tail of the log if the process has exited."""
        if self.process is not None and self.process.poll() is not None:
            tail = self.log.read_text(errors="replace")[-1500:]
            raise ChildError(
                f"{self.name} exited with code {self.process.returncode}; log {self.log}:\n{tail}"
            )

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the process group, SIGKILL after ``timeout``; return the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop in %.0f s; killing it", self.name, timeout)
                self._signal(signal.SIGKILL)
                self.process.wait()
        code = self.process.returncode
        self.process = None
        return code

    def _signal(self, signum: int) -> None:
        assert self.process is not None
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass


def wait_http(url: str, child: Child, timeout: float = 30.0) -> None:
    """Wait until ``url`` answers 200, failing early if ``child`` dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        child.check_alive()
        try:
            if httpx2.get(url, timeout=1.0).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.1)
    raise ChildError(f"{child.name} did not answer {url} within {timeout:.0f} s; log {child.log}")
