"""Progress of long record scans (`argus verify`, `argus export`) on stderr.

Only a person watching a terminal wants it: piped, redirected to a file or with --quiet nothing is
drawn, so scripts and --json consumers see exactly the output they always did. Hand-written (a
redrawn line) rather than rich or tqdm: neither is a dependency and the need is one line of text.
"""

from __future__ import annotations

import sys
import time

WIDTH = 24
INTERVAL = 0.5  # seconds between redraws: enough to look alive, cheap over millions of rows


def wanted(quiet: bool) -> bool:
    """Draw progress unless --quiet or stderr is not a terminal."""
    return not quiet and sys.stderr.isatty()


class Progress:
    """A redrawn `verb N records [bar] pct, rate/s, ETA` line; a no-op when disabled."""

    def __init__(self, verb: str, total: int | None, enabled: bool) -> None:
        self.verb, self.total, self.enabled = verb, total, enabled
        self.started, self.shown, self.done_count = time.monotonic(), 0.0, 0

    def tick(self, done: int) -> None:
        self.done_count = done
        now = time.monotonic()
        if self.enabled and now - self.shown >= INTERVAL:
            self.shown = now
            self._draw(now)

    def finish(self, done: int) -> None:
        """Draw the final count and end the line, so the report starts on a clean one."""
        if self.enabled:
            self.done_count = done
            self._draw(time.monotonic())
            print(file=sys.stderr, flush=True)

    def _draw(self, now: float) -> None:
        done, total = self.done_count, self.total
        rate = done / max(now - self.started, 1e-9)
        text = f"{self.verb} {done:,} records"
        if total:
            filled = min(WIDTH, WIDTH * done // total)
            text += f" [{'#' * filled}{'-' * (WIDTH - filled)}] {min(100, 100 * done // total)}%"
        text += f", {rate:,.0f}/s"
        if total and rate and done < total:
            text += f", ETA {(total - done) / rate:.0f}s"
        print(f"\r{text}   ", end="", file=sys.stderr, flush=True)
