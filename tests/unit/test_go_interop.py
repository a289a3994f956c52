"""Go's reference implementations accept our vectors: golang.org/x/mod/sumdb/note opens our
checkpoints, github.com/transparency-dev/merkle (v0.0.2) verifies our leaf hashes, roots and
proofs (tests/vectors/interop). The live counterpart, with proofs served by a running Argus, is
tests/integration/test_transparency.py."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

INTEROP = Path(__file__).resolve().parent.parent / "vectors" / "interop"
VECTORS = INTEROP.parent / "transparency" / "vectors.json"


def run_interop(*claims: Path) -> subprocess.CompletedProcess[str]:
    """Build the Go checker (modules from the Go module proxy, pinned by go.sum) and run it."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("the Go toolchain is needed for the interop test (deploy/local/install.sh installs it)")
    binary = INTEROP / ".bin" / "interop"
    subprocess.run([go, "build", "-mod=readonly", "-o", str(binary), "."], cwd=INTEROP, check=True, timeout=300)
    return subprocess.run(
        [str(binary), str(VECTORS), *map(str, claims)], capture_output=True, text=True, timeout=120
    )


def test_go_reference_implementations_accept_the_vectors() -> None:
    result = run_interop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "interop: OK" in result.stdout
