"""The HTML report: every name and cell is shown as text, never as markup, and the page needs
nothing from outside itself."""

from __future__ import annotations

import re
from datetime import timedelta

from builders import NOW, activity, make_lead, model_from

from connectors.records import Outcome
from scoring.backtest import labelled_from_records, run_backtest
from scoring.report import ExtraTable, NamedResult, Report, render_report

MODEL = model_from(
    """
    name: "Sales <b>& marketing</b>"
    fit:
      rules:
        - {id: senior, label: "VP <i>title</i>", when: {field: title, op: matches, value: VP},
           points: 50}
    stages:
      - {stage: mql, label: "Senior <script>alert(1)</script>",
         when: {field: grade, op: in, value: [A, B, C]}}
    """
)


def a_report(title: str, cell: str) -> str:
    leads = [make_lead(f"L{i}", title="VP Sales" if i < 4 else "Analyst") for i in range(10)]
    outcomes = [Outcome(lead_id="L0", converted=True, at=NOW - timedelta(days=1))]
    activities = [activity("page_view", 3, "L1")]
    result = run_backtest(labelled_from_records(leads, activities, outcomes, NOW), MODEL)
    return render_report(
        Report(
            title=title,
            results=[NamedResult("current <model>", result)],
            lines=["leads from 'export.csv' & more"],
            tables=[ExtraTable("Proposed changes", ["what", "label", "before"], [[cell, "x", "y"]])],
        )
    )


def test_names_labels_and_cells_with_markup_are_shown_as_text() -> None:
    page = a_report("Backtest of <Sales & co>", "<img src=x onerror=alert(1)>")
    assert "<title>Backtest of &lt;Sales &amp; co&gt;</title>" in page
    assert "<h1>Backtest of &lt;Sales &amp; co&gt;</h1>" in page
    assert "current &lt;model&gt;" in page
    assert "Sales &lt;b&gt;&amp; marketing&lt;/b&gt;" in page
    assert "Senior &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<b>" not in page and "<img" not in page and "<script>alert" not in page


def test_the_report_is_one_page_with_four_inline_charts_and_its_threshold_data() -> None:
    page = a_report("Backtest", "added")
    assert page.startswith("<!doctype html>")
    assert page.count("<svg") == 4
    assert "<script type='application/json' id='threshold-data'>[{" in page
    assert "http" not in page and "<link" not in page and " src=" not in page


def test_no_chart_axis_shows_a_share_above_100_percent() -> None:
    page = a_report("Backtest", "added")  # its top decile converts 100%
    shares = [float(tick) for tick in re.findall(r">(\d+(?:\.\d+)?)%</text>", page)]
    assert shares and max(shares) == 100


def test_a_result_headline_shows_its_roc_auc_as_the_terminal_words_it() -> None:
    leads = [make_lead(f"L{i}", title="VP Sales" if i < 4 else "Analyst") for i in range(10)]
    outcomes = [Outcome(lead_id="L0", converted=True, at=NOW - timedelta(days=1))]
    result = run_backtest(labelled_from_records(leads, [], outcomes, NOW), MODEL)
    worded = "0.869 (5-fold mean), 0.857 pooled"
    page = render_report(Report("Learn", [NamedResult("learned", result, worded)]))
    assert f"<div class='big'>ROC AUC {worded}</div>" in page
