"""processor/faust_seam.py ReplicaWorker: the root logger holds the chosen level while the replica runs.

Why: faust's Worker raises the root logger to DEBUG for its start-up spinner and leaves it there,
so every `log.debug` of the running replica built a record nobody writes (docs/benchmarks.md,
"Per-message overhead"). The spinner must still see DEBUG during start-up and shutdown, and the
chosen level must be what decides what is written.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator

import faust
import pytest

from argus.runtime import logs
from processor.faust_seam import ReplicaWorker


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, restored after the test (the Worker reconfigures it)."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def _worker(level: str) -> ReplicaWorker:
    app = faust.App("replica-worker-test", broker="kafka://127.0.0.1:1")
    return ReplicaWorker(
        app, loglevel=level.lower(), quiet=True, redirect_stdouts=False, stdout=io.StringIO(),
        logging_config=logs.dict_config(level, "text"),
    )  # fmt: skip


def test_root_is_debug_only_for_the_spinner(root_logger: logging.Logger) -> None:
    worker = _worker("WARNING")
    worker._setup_logging()
    assert root_logger.level == logging.DEBUG  # faust's spinner spins on every record while starting
    asyncio.run(worker.on_startup_finished())
    assert root_logger.level == logging.WARNING
    assert not logging.getLogger("processor.publish").isEnabledFor(logging.DEBUG)
    assert logging.getLogger("processor.publish").isEnabledFor(logging.WARNING)
    worker.on_worker_shutdown()
    assert root_logger.level == logging.DEBUG  # and again while stopping, as faust's Worker does


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
def test_a_level_below_warning_is_left_alone(root_logger: logging.Logger, level: str) -> None:
    worker = _worker(level)  # faust runs no spinner then, and sets the root to the chosen level
    worker._setup_logging()
    asyncio.run(worker.on_startup_finished())
    assert root_logger.level == logging.getLevelName(level)
    worker.on_worker_shutdown()
    assert root_logger.level == logging.getLevelName(level)
