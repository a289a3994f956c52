"""Where the operations tools installed by deploy/local/ops-tools.sh are; a missing one fails the test
with the command that installs it (never a skip)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HOW_TO_INSTALL = "run `bash deploy/local/install.sh` (it runs deploy/local/ops-tools.sh)"


def tool(name: str) -> str:
    """Path of `name`: <repo>/.local/bin first (helm), then PATH (promtool, prometheus)."""
    local = ROOT / ".local" / "bin" / name
    if local.is_file():
        return str(local)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found; {HOW_TO_INSTALL}")
    return found
