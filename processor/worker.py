"""faust's Worker for one replica, without DEBUG log records between start-up and shutdown.

Why: faust's Worker sets the root logger to DEBUG whatever `--log-level` says, so that its
terminal spinner advances on every log call during start-up (`faust.Worker.on_setup_root_logger`),
and leaves it there once the spinner is finished. Every `log.debug` in the process then builds a
LogRecord that only a finished spinner and a handler at the chosen level see, and drop: per
event in `processor/publish.py`'s committed-event line. This Worker puts the root logger back at
the chosen level once start-up is done and gives the spinner DEBUG again for the shutdown, when
faust's spinner spins again; what is written, to the terminal or the log, is unchanged.
"""

from __future__ import annotations

import logging

import faust


class ReplicaWorker(faust.Worker):
    """A faust Worker whose root logger holds the chosen level while the replica runs."""

    _spinner_level: int | None = None  # the chosen level, when faust raised the root to DEBUG for its spinner

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        if self.spinner and logger.level == logging.DEBUG:
            self._spinner_level = level

    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        if self._spinner_level is not None:
            logging.getLogger().setLevel(self._spinner_level)

    def on_worker_shutdown(self) -> None:
        if self._spinner_level is not None:
            logging.getLogger().setLevel(logging.DEBUG)
        super().on_worker_shutdown()
