"""How the CLI shows backtest and learn: their terminal summaries and the content of their HTML
reports (`scoring.report` lays out the page)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.table import Table

from scoring.backtest import BacktestResult
from scoring.conversion_measures import Segment
from scoring.crossvalidation import Estimate
from scoring.proposal_diff import ProposedChange
from scoring.report import ExtraTable, NamedResult, Report
from scoring.stability import MIN_FOLD_SHARE
from sync.learn_run import LearnRun
from sync.outcomes import Loaded
from sync.terminal import markup_safe


def backtest_summary(result: BacktestResult, source: str) -> list[Any]:
    passed = result.passed_to_sales
    lines: list[Any] = [
        f"[bold]Backtest of {markup_safe(result.model_name)}[/bold] "
        f"(version {result.model_version}) on {markup_safe(source)}",
        f"{result.leads:,} leads, {result.converted:,} converted ({result.base_rate:.1%}); "
        f"{markup_safe(result.cutoffs)}"
        + (f"; measured on the {markup_safe(result.split)}" if result.split else ""),
        f"[bold]ROC AUC {result.auc:.3f}[/bold]"
        + (
            f", probability {result.probability_auc:.3f}"
            if result.probability_auc is not None
            else ""
        )
        + f"; top-decile lift {result.top_decile_lift:.2f}×",
    ]
    if passed:
        lines.append(
            f"Stage rules pass {passed.leads:,} leads ({passed.leads / result.leads:.1%}) to "
            f"sales: {passed.rate:.1%} converted, "
            f"{passed.share_of_conversions:.0%} of all conversions."
        )
    lines += [f"[yellow]note:[/yellow] {markup_safe(note)}" for note in result.notes]
    if result.bands_out_of_order:
        lines.append(
            "[yellow]calibration:[/yellow] score bands converting worse than a lower band: "
            + ", ".join(result.bands_out_of_order)
        )
    lines.append(_segments_table("By score decile", "decile", result.by_decile))
    lines.append(_segments_table("By grade", "grade", result.by_grade))
    lines.append(_thresholds_table(result))
    lines.append(_stages_table(result))
    return lines


def _segments_table(title: str, key: str, segments: list[Segment]) -> Table:
    table = Table(title=title, title_justify="left")
    for name in (key, "leads", "converted", "rate", "lift"):
        table.add_column(name, justify="left" if name == key else "right")
    for s in segments:
        table.add_row(
            markup_safe(s.name),
            f"{s.leads:,}",
            f"{s.converted:,}",
            f"{s.rate:.1%}",
            f"{s.lift:.2f}×",
        )
    return table


def _thresholds_table(result: BacktestResult) -> Table:
    table = Table(title="Candidate MQL thresholds", title_justify="left")
    for name in ("score ≥", "leads", "share", "precision", "recall", "lift"):
        table.add_column(name, justify="right")
    for row in result.thresholds:
        if row.threshold % 10 == 0 and row.leads:
            table.add_row(
                str(row.threshold),
                f"{row.leads:,}",
                f"{row.share:.1%}",
                f"{row.precision:.1%}",
                f"{row.recall:.1%}",
                f"{row.lift:.2f}×",
            )
    return table


def _stages_table(result: BacktestResult) -> Table:
    table = Table(title="What the stage rules pass to sales", title_justify="left")
    for name in ("stage rule", "stage", "leads", "rate", "of conversions"):
        table.add_column(name, justify="left" if name.startswith("stage") else "right")
    for p in result.stages:
        table.add_row(
            markup_safe(p.rule),
            markup_safe(p.stage),
            f"{p.leads:,}",
            f"{p.rate:.1%}",
            f"{p.share_of_conversions:.0%}",
        )
    return table


def backtest_report(result: BacktestResult, loaded: Loaded) -> Report:
    return Report(
        title=f"leadq backtest — {result.model_name}",
        results=[NamedResult("current model", result)],
        lines=[f"Data: {loaded.source}.", result.cutoffs],
        tables=[ExtraTable(title, ACCEPTANCE_HEADER, rows)
                for title, rows in acceptance_tables(loaded)],
    )


ACCEPTANCE_HEADER = ("", "decided", "accepted", "rejected", "not a fit", "no response",
                     "acceptance")


def acceptance_tables(loaded: Loaded) -> list[tuple[str, list[list[str]]]]:
    """Handoff acceptance by the grade and by the label leadq wrote on each lead: how reps
    disposed of the leads they decided on (lifecycle dispositions)."""
    return [
        (f"Handoff acceptance by {output}",
         [[row.name, f"{row.decided:,}", f"{row.accepted:,}", f"{row.rejected:,}",
           f"{row.not_a_fit:,}", f"{row.no_response:,}", f"{row.acceptance:.0%}"]
          for row in rows])
        for output, rows in loaded.acceptance.items()
    ]


def acceptance_summary(loaded: Loaded) -> list[Table]:
    """The handoff acceptance tables, for the terminal."""
    tables = []
    for title, rows in acceptance_tables(loaded):
        table = Table(title=title, title_justify="left")
        for index, name in enumerate(ACCEPTANCE_HEADER):
            table.add_column(name or "", justify="left" if index == 0 else "right")
        for row in rows:
            table.add_row(markup_safe(row[0]), *row[1:])
        tables.append(table)
    return tables


def learn_summary(run: LearnRun, output: Path) -> list[Any]:
    lines: list[Any] = [f"[yellow]warning:[/yellow] {markup_safe(s.warning)}" for s in run.suspects]
    notes = [*run.current.notes, *recency_note(run), *unlearnable_note(run), *unstable_note(run)]
    lines += [f"[yellow]note:[/yellow] {markup_safe(note)}" for note in notes]
    lines.append(_estimate_table(run))
    lines.append(_proposed_changes_table(run.changes))
    card = run.card
    lines.append(
        f"MQL at score ≥ {card.mql_threshold} (sales capacity: {markup_safe(card.capacity_text)}; "
        f"it passes {card.passing_text}). "
        f"{card.points_per_logit * math.log(2):.0f} points double a lead's odds of converting."
    )
    lines.append(
        f"Wrote {output}: a leadq model. Review it, then `leadq backtest --model {output} …`."
    )
    return lines


def recency_note(run: LearnRun) -> list[str]:
    """How learn weighted recent leads, as one note (none when every lead counted alike)."""
    share = run.recency_half_life
    if share is None:
        return []
    return [f"recent leads weigh more: a lead counts half as much for every {share * 100:g}% "
            f"of the leads that are newer than it (recency half-life {share:g})"]


def unlearnable_note(run: LearnRun) -> list[str]:
    """Which fields learn never used and why, as one note (none when there are none)."""
    by_reason: dict[str, list[str]] = {}
    for path, reason in run.unlearnable.items():
        by_reason.setdefault(reason, []).append(path)
    never = [f"{', '.join(paths)} ({reason})" for reason, paths in by_reason.items()]
    return ["not learned from: " + "; ".join(never)] if never else []


def unstable_note(run: LearnRun) -> list[str]:
    """The candidate rules left out because the folds disagree on them, as one note."""
    unstable = [f"'{label}' ({found.text})" for label, found in run.card.unstable.values()]
    if not unstable:
        return []
    return [f"left out, not stable across the cross-validation folds (a stable rule is in at "
            f"least {MIN_FOLD_SHARE:.0%} of them, always with the same sign): "
            + "; ".join(unstable)]  # fmt: skip


def cross_validated_text(estimate_: Estimate) -> str:
    """The proposal's cross-validated ROC AUC as the terminal and the report both show it: the
    mean over the folds, and pooled over every fold's scores (the report's learned headline)."""
    if estimate_.mean_fold_auc is None:
        return "—"
    text = f"{estimate_.mean_fold_auc:.3f} ({len(estimate_.fold_aucs)}-fold mean)"
    if estimate_.out_of_fold is not None:
        text += f", {estimate_.out_of_fold.auc:.3f} pooled"
    return text


def _estimate_table(run: LearnRun) -> Table:
    table = Table(title="How well each model ranks conversions (ROC AUC)", title_justify="left")
    for name in ("model", "cross-validated", "latest leads", "top-decile lift"):
        table.add_column(name, justify="left" if name == "model" else "right")
    estimate_ = run.estimate
    table.add_row(
        "current",
        f"{run.current.auc:.3f} (all leads)",
        f"{run.current_latest.auc:.3f}" if run.current_latest else "—",
        f"{run.current.top_decile_lift:.2f}×",
    )
    table.add_row(
        "proposed",
        cross_validated_text(estimate_),
        f"{estimate_.latest.auc:.3f}" if estimate_.latest else "—",
        f"{estimate_.out_of_fold.top_decile_lift:.2f}×" if estimate_.out_of_fold else "—",
    )
    return table


CHANGE_STYLE = {"added": "green", "changed": "yellow", "removed": "red"}


def _proposed_changes_table(changes: list[ProposedChange]) -> Table:
    table = Table(title="Proposed changes, with their evidence", title_justify="left")
    table.add_column("", min_width=7)
    table.add_column("rule or setting", min_width=24)
    table.add_column("points", justify="right", max_width=30)
    table.add_column("stability", max_width=18)
    for name in ("leads", "conv.", "weight"):
        table.add_column(name, justify="right", no_wrap=True)
    for change in changes:
        evidence = change.evidence
        why = f"\n[italic]{markup_safe(change.why)}[/italic]" if change.why else ""
        table.add_row(
            f"[{CHANGE_STYLE[change.kind]}]{change.kind}[/]",
            f"{markup_safe(change.label)}\n[dim]{markup_safe(change.what)}[/dim]{why}",
            f"{markup_safe(change.before)} → {markup_safe(change.after)}",
            markup_safe(change.stability),
            f"{evidence.leads:,}" if evidence else "",
            f"{evidence.rate:.1%}" if evidence else "",
            f"{evidence.weight:+.2f}" if evidence else "",
        )
    return table


def _change_rows(changes: list[ProposedChange]) -> list[list[str]]:
    return [
        [
            change.kind,
            change.what,
            change.label,
            change.before,
            change.after,
            change.stability,
            f"{change.evidence.leads:,}" if change.evidence else "",
            f"{change.evidence.rate:.1%}" if change.evidence else "",
            f"{change.evidence.weight:+.2f}" if change.evidence else "",
            change.why,
        ]
        for change in changes
    ]


def learn_report(run: LearnRun, loaded: Loaded) -> Report:
    results = []
    if run.estimate.out_of_fold is not None:
        results.append(
            NamedResult(
                "learned (each lead scored by a fold that did not see it)",
                run.estimate.out_of_fold,
                cross_validated_text(run.estimate),
            )
        )
    results.append(NamedResult("current model", run.current))
    if run.estimate.latest is not None:
        results.append(NamedResult("learned on earlier leads, latest leads", run.estimate.latest))
    if run.current_latest is not None:
        results.append(NamedResult("current model, latest leads", run.current_latest))
    header = ["change", "what", "rule", "before", "after", "stability", "leads", "conversion",
              "weight", "why"]  # fmt: skip
    return Report(
        title=f"leadq learn — {run.card.model.name}",
        results=results,
        lines=[f"Data: {loaded.source}.", run.current.cutoffs, *recency_note(run),
               *unlearnable_note(run),
               *unstable_note(run),
               "ROC AUC of the proposal on leads it did not learn from: "
               f"{cross_validated_text(run.estimate)}."],
        warnings=[s.warning for s in run.suspects],
        tables=[
            ExtraTable("Proposed changes, with their evidence", header, _change_rows(run.changes))
        ],
    )
