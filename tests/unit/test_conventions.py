"""House rules that a linter does not check (style.md): settings only from config.py."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("protocol", "firmware_sim", "gateway", "server", "inperson")
ENVIRONMENT = re.compile(r"\bos\.(environ|getenv|putenv)\b")
# the composition root hands the environment through to the processes it starts
ALLOWED = {Path("inperson/processes.py")}


def test_environment_is_read_only_in_config_modules() -> None:
    sources = [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))]
    assert len(sources) > 50
    offenders = [
        str(path.relative_to(ROOT))
        for path in sources
        if path.name != "config.py"
        and path.relative_to(ROOT) not in ALLOWED
        and ENVIRONMENT.search(path.read_text())
    ]
    assert offenders == []
