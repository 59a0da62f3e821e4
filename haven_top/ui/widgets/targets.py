"""The targets list under the title bar: reachability and health of each instance."""

from __future__ import annotations

import math

from textual.content import Content
from textual.widgets import Static

from haven_top.core.snapshot import Snapshot, TargetStatus
from haven_top.core.urls import redact_url
from haven_top.ui.widgets import format as fmt
from haven_top.ui.widgets.text import set_text

MAX_TARGET_LINES = 3
"""Above this many targets, one summary line replaces the healthy ones."""

HEALTHY_DEPENDENCY = {"healthy", "ok", "up", "ready"}


class TargetList(Static):
    """One line per target, or a summary plus the unhealthy ones for a fleet.

    Every state is a word (UP, DOWN, OK, FAIL), so it reads without colour. A
    health check not known, such as through Prometheus, shows as "–".
    """

    def show(self, snapshot: Snapshot) -> None:
        """Render the targets of `snapshot`."""
        set_text(self, targets_content(snapshot.targets))


def targets_content(targets: tuple[TargetStatus, ...]) -> Content:
    """Build the lines for `targets`, with a summary first when there are many."""
    if not targets:
        return Content("no targets")
    if len(targets) <= MAX_TARGET_LINES:
        return Content("\n").join(target_line(target) for target in targets)
    troubled = [target for target in targets if not is_healthy(target)]
    lines = [summary_line(targets, len(troubled))]
    lines.extend(target_line(target) for target in troubled[:MAX_TARGET_LINES])
    if len(troubled) > MAX_TARGET_LINES:
        lines.append(Content(f"… {len(troubled) - MAX_TARGET_LINES} more unhealthy"))
    return Content("\n").join(lines)


def is_healthy(target: TargetStatus) -> bool:
    """Return True when the last scrape succeeded and no health check failed.

    A health check that is unknown (None) does not count against the target:
    through Prometheus, `/health/live` and `/health/ready` are never polled.
    """
    return target.up is True and target.live is not False and target.ready is not False


def summary_line(targets: tuple[TargetStatus, ...], troubled: int) -> Content:
    up = sum(1 for target in targets if target.up)
    style = "bold $error" if troubled else "bold $success"
    return Content.assemble(
        f"{len(targets)} targets: {up} UP, ",
        (f"{troubled} unhealthy", style),
    )


def target_line(target: TargetStatus) -> Content:
    """Reachability, health, scrape age and marks first; what is wrong last.

    The problem text comes last so that on a narrow terminal it wraps onto the
    next line instead of pushing the short fields out of sight.
    """
    parts: list[str | tuple[str, str]] = [
        (short_url(target.url), "bold"),
        "  ",
        up_mark(target.up),
    ]
    if target.up is not None or target.live is not None:
        parts.extend(["  live ", check_mark(target.live)])
        parts.extend(["  ready ", check_mark(target.ready)])
    parts.append(f"  {scrape_age_text(target)}")
    if target.restarted_age is not None:
        restarted = f"RESTARTED {fmt.age(target.restarted_age)} ago"
        parts.extend(["  ", (restarted, "bold $warning")])
    if target.debug_remaining is not None:
        debug = f"DEBUG {countdown(target.debug_remaining)}"
        parts.extend(["  ", (debug, "$warning")])
    problem = problem_text(target)
    if problem:
        parts.extend(["  ", (problem, "$error")])
    return Content.assemble(*parts)


def scrape_age_text(target: TargetStatus) -> str:
    """Describe the age of the last good scrape, as "last scraped" once down."""
    if target.last_scrape_age is None:
        return "never scraped" if target.up is False else "not scraped yet"
    prefix = "last scraped" if target.up is False else "scraped"
    return f"{prefix} {fmt.whole_age(target.last_scrape_age)} ago"


def countdown(seconds: float) -> str:
    """Format time left as minutes and seconds, rounded up: "4:32", "0:07"."""
    minutes, secs = divmod(max(0, math.ceil(seconds)), 60)
    return f"{minutes}:{secs:02d}"


def up_mark(up: bool | None) -> tuple[str, str]:
    if up is None:
        return ("CONNECTING", "$warning")
    return ("UP", "bold $success") if up else ("DOWN", "bold reverse $error")


def check_mark(value: bool | None) -> tuple[str, str]:
    if value is None:
        return (fmt.DASH, "$text-muted")
    return ("OK", "$success") if value else ("FAIL", "bold $error")


def problem_text(target: TargetStatus) -> str:
    """Join the target's error, its readiness 503 text and unhealthy dependencies."""
    problems = []
    if target.error:
        problems.append(target.error)
    if target.ready_error and target.ready_error != target.error:
        problems.append(target.ready_error)
    unhealthy = [
        f"{name} {state}"
        for name, state in target.dependencies.items()
        if state.lower() not in HEALTHY_DEPENDENCY
    ]
    if unhealthy:
        problems.append(", ".join(unhealthy))
    return "; ".join(problems)


def short_url(url: str) -> str:
    """Strip the scheme and trailing slash from `url`: "127.0.0.1:8000".

    A password in `url` is replaced with `***`.
    """
    url = redact_url(url)
    for scheme in ("http://", "https://"):
        if url.startswith(scheme):
            url = url[len(scheme) :]
    return url.rstrip("/")
