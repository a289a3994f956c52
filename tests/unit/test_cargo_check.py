"""deploy/local/cargo.sh picks a cargo that can build argus_native, or stops install.sh clearly.

Why: install.sh once checked only that some cargo was on PATH, so Debian 12's cargo (Rust 1.65,
which cannot read native/Cargo.lock v4) passed the check and the build failed later, unclearly,
even with a rustup cargo in ~/.cargo/bin.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "local" / "cargo.sh"


def _fake_cargo(folder: Path, version: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cargo = folder / "cargo"
    cargo.write_text(f"#!/bin/sh\necho 'cargo {version} (0000000 2024-01-01)'\n")
    cargo.chmod(0o755)
    return cargo


def _run(path_cargo: str, home: Path) -> subprocess.CompletedProcess[str]:
    bin_dir = home / "path-bin"
    _fake_cargo(bin_dir, path_cargo)
    env = {**os.environ, "HOME": str(home), "PATH": f"{bin_dir}:/usr/bin:/bin"}
    return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)


def test_a_recent_cargo_on_path_is_used(tmp_path: Path) -> None:
    result = _run("1.95.0", tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == str(tmp_path / "path-bin" / "cargo")


def test_an_old_cargo_on_path_gives_way_to_rustups(tmp_path: Path) -> None:
    rustup = _fake_cargo(tmp_path / ".cargo" / "bin", "1.80.0")
    result = _run("1.65.0", tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == str(rustup)


def test_only_an_old_cargo_stops_the_install(tmp_path: Path) -> None:
    result = _run("1.65.0", tmp_path)
    assert result.returncode == 1 and result.stdout == "" and result.stderr
