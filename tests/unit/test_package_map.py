"""docs/architecture.md's package map names every package and module of the code, and nothing else.

Why: the map is how a newcomer finds each step of the data's path (issue 12); a module added,
moved or deleted without the map following would send them to the wrong place.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
#: Top-level folders that hold no shipped code: they are not on the map.
NOT_SHIPPED = frozenset({"tests", "bench", "examples", "deploy", "docs", "configs", "build", "dist"})
#: Packages the map names as one row: their modules are one per schema revision, not one per job.
ONE_ROW = ("argus/db/migrations/versions/",)
#: A map row: `| `path` | job |`, a package's path ending in "/", a module's in ".py".
ROW = re.compile(r"^\|\s*`(?P<path>[\w./-]+)`\s*\|\s*(?P<job>[^|]*?)\s*\|\s*$")


def map_rows() -> list[tuple[str, str]]:
    """(path, job) of every row of the "Package map" section, in the map's order."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = re.search(r"^## Package map\n(?P<body>.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    assert section, "docs/architecture.md has no '## Package map' section followed by another section"
    return [(m["path"], m["job"]) for m in map(ROW.match, section["body"].splitlines()) if m]


def package_roots() -> list[Path]:
    """The shipped top-level packages: folders of the root with an __init__.py, and those of each
    separate distribution (a root folder with its own pyproject.toml, e.g. client/)."""
    roots = []
    for folder in sorted(p for p in ROOT.iterdir() if p.is_dir() and p.name not in NOT_SHIPPED):
        if (folder / "__init__.py").is_file():
            roots.append(folder)
        elif (folder / "pyproject.toml").is_file():
            roots.extend(sorted(p.parent for p in folder.glob("*/__init__.py")))
    return roots


def code_paths() -> set[str]:
    """Every package ("x/y/") and module ("x/y/z.py") of the shipped code, relative to the root."""
    paths: set[str] = set()
    for root in package_roots():
        for init in root.rglob("__init__.py"):
            paths.add(init.parent.relative_to(ROOT).as_posix() + "/")
        for module in root.rglob("*.py"):
            relative = module.relative_to(ROOT).as_posix()
            if module.name != "__init__.py" and not relative.startswith(ONE_ROW):
                paths.add(relative)
    return paths


def test_the_code_has_the_packages_the_map_expects() -> None:
    names = {root.relative_to(ROOT).as_posix() for root in package_roots()}
    assert {"argus", "argus_commands", "ingest_gateway", "processor", "sinks", "client/argus_client"} <= names


def test_every_package_and_module_is_on_the_map_once() -> None:
    rows = map_rows()
    listed = [path for path, _ in rows]
    assert sorted({p for p in listed if listed.count(p) > 1}) == [], "named twice on the map"
    missing = sorted(code_paths() - set(listed))
    assert missing == [], f"in the code but not on docs/architecture.md's package map: {missing}"


def test_the_map_names_nothing_that_does_not_exist() -> None:
    stale = sorted({path for path, _ in map_rows()} - code_paths())
    assert stale == [], f"on docs/architecture.md's package map but not in the code: {stale}"


def test_every_row_says_what_its_part_is_for() -> None:
    assert [path for path, job in map_rows() if len(job) < 12] == []


def test_a_module_follows_its_package() -> None:
    """Rows come package by package: a module's row sits under its own package's row."""
    current = None
    for path, _ in map_rows():
        if path.endswith("/"):
            current = path
        else:
            assert current is not None and path.startswith(current) and "/" not in path[len(current) :], path
