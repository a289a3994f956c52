"""Run Python in a fresh interpreter where some packages cannot be imported: how the tests prove
that a part of Argus stands alone (the spec package, the verifier's check side)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: Installed first in the child: a meta-path finder that refuses HIDDEN and their submodules.
_BLOCKER = """
import importlib.abc, json, sys
HIDDEN = {hidden!r}

class _Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == h or name.startswith(h + ".") for h in HIDDEN):
            raise ImportError(f"{what} loaded {{name}}")
        return None

sys.meta_path.insert(0, _Hide())
"""
#: Appended last: one JSON line naming every hidden module that got loaded anyway (none, or it failed).
_LOADED = """
print(json.dumps(sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in HIDDEN))))
"""


def run_hidden(hidden: tuple[str, ...], what: str, code: str, *args: Any, env: dict[str, str] | None = None
               ) -> tuple[list[str], list[str]]:  # fmt: skip
    """Run `code` with `hidden` unimportable; (its stdout lines but the last, the hidden modules it loaded)."""
    program = _BLOCKER.format(hidden=hidden, what=what) + code + _LOADED
    run = subprocess.run([sys.executable, "-c", program, *map(str, args)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr
    *lines, loaded = run.stdout.strip().splitlines()
    return lines, json.loads(loaded)

