"""One preview run: a full dry run of the live CRM through the engine, watched batch by batch."""

from __future__ import annotations

from datetime import UTC, datetime

from sync.engine import RunWatch
from sync.preview import Preview, PreviewCollector
from sync.runtime import Runtime, open_runtime
from sync.settings import Settings


def run_preview(settings: Settings, now: datetime | None = None) -> Preview:
    runtime = open_runtime(settings)
    try:
        return preview_of(runtime, now or datetime.now(UTC))
    finally:
        runtime.close()


def preview_of(runtime: Runtime, now: datetime) -> Preview:
    """Score every lead as a full sync would, as of `now`, and write nothing."""
    engine = runtime.engine(lambda: now)
    collector = PreviewCollector(runtime.model, engine.compiled, engine.planner.shown_stage, now)
    watch = RunWatch(assignments=collector.assigned)
    report = engine.run("full", dry_run=True, observer=collector, watch=watch)
    return collector.preview.finish(report)
