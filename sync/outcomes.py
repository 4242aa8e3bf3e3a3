"""Where `leadq backtest` and `leadq learn` find outcomes: who converted, and when.

Every source ends in a `Loaded`: `scoring.backtest.LabelledLeads` (leads, their activities before
each lead's outcome, and whether each converted) plus the source in words. The sources:

- `CsvOutcomes`: a leads CSV with a label column (and optionally an outcome-time column and an
  activities CSV);
- `CrmOutcomes`: the CRM the LEADQ_* settings name, read through its connector
  (`ConnectorOutcomes`: every lead with a history, converted ones included, their activities
  and the connector's Outcome stream, each conversion dated; a rep's rejection dated when the
  status was set, by its field history; for learn, `field_history` also reads when each lead's
  values of the lead fields learn considers were set and when its stage reached MQL, where the
  CRM keeps field history, so a value set after the outcome or the handoff shows as a leak);
- plugins registered in the entry-point group `leadq.outcome_sources`, each a factory called with
  its option's value: the sandbox registers `sandbox` (`--sandbox N`: a synthetic org of N leads).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from connectors.csv_activity_index import (
    ActivityIndex,
)
from connectors.csvfile import (
    CsvInputError,
    CsvLeadReader,
)
from connectors.field_times import FieldTimes
from connectors.records import Activity, Lead, parse_timestamp
from scoring.backtest import LabelledLeads, cut_off_before_outcomes, labelled_from_records
from scoring.conditions import normalise_text
from scoring.config import ScoringModel
from scoring.dispositions import (
    AcceptanceRow,
    Rejections,
    acceptance_by,
    rejected_leads,
    rejections,
)
from scoring.leaks import DatedValues, handoff_stages
from sync.user_errors import UserError

if TYPE_CHECKING:
    from connectors.base import Connector

PLUGIN_GROUP = "leadq.outcome_sources"
STATUS_PATH = "lead_status"  # the rep's disposition, dated by its field history
POSITIVE_VALUES = frozenset({"yes", "y", "true", "1", "won", "converted", "closed won"})


@dataclass(frozen=True)
class Loaded:
    labelled: LabelledLeads
    source: str  # in words, for the summary and the report
    notes: list[str] = field(default_factory=list)
    # from the CRM's field history: when the lead fields learn considers got their values
    history: FieldTimes = field(default_factory=FieldTimes)
    # rep dispositions of handed-off leads, by the grade and by the label leadq wrote on them
    acceptance: dict[str, list[AcceptanceRow]] = field(default_factory=dict)
    # from the stage field's history: when each lead was handed to sales (reached MQL or later)
    handed_off_at: dict[str, datetime] = field(default_factory=dict)

    def dated_values(self) -> dict[str, DatedValues]:
        """`history` per labelled lead, in epoch seconds (NaN: not dated), by field path."""
        ids = [lead.id for lead in self.labelled.leads]
        handed_off = _epochs(ids, self.handed_off_at)
        first_set = self.history.first_set_at
        return {
            path: DatedValues(_epochs(ids, times), _epochs(ids, first_set.get(path, {})),
                              handed_off)
            for path, times in self.history.set_at.items()
        }


class OutcomeSource(Protocol):
    def labelled(self, model: ScoringModel, now: datetime | None) -> Loaded: ...


def plugin_source(name: str, value: object) -> OutcomeSource:
    """The source a plugin registers under `name` in `leadq.outcome_sources`, for `value`."""
    plugins = entry_points(group=PLUGIN_GROUP)
    if name not in plugins.names:
        raise UserError(f"--{name}: no outcome source {name!r} is installed")
    factory = plugins[name].load()
    source: OutcomeSource = factory(value)
    return source


@dataclass(frozen=True)
class ConnectorOutcomes:
    """Leads, their activities and the Outcome stream, pulled through a CRM connector."""

    connector: Connector
    field_history: bool = False  # also read when the values learn considers were set

    def labelled(self, model: ScoringModel, now: datetime | None) -> Loaded:
        leads = [lead for page in self.connector.pull_history() for lead in page.leads]
        activities = self.connector.pull_activities(leads, None)
        outcomes = list(self.connector.pull_outcomes(None))
        end = now or _latest_moment(leads, activities, [_epoch(o.at) for o in outcomes])
        rejected = rejected_leads(model, self.connector.crm, leads, outcomes, end)
        read = self._read_history(model, leads, rejected)
        dated = rejections(rejected, read.times.set_at.get(STATUS_PATH, {}))
        labelled = labelled_from_records(leads, activities, outcomes + dated.outcomes, end)
        source = f"{self.connector.crm} ({len(leads):,} leads)"
        notes = [_dispositions_note(dated)] if rejected else []
        acceptance = self._acceptance(model, leads)
        if not self.field_history:
            return Loaded(labelled, source, notes, acceptance=acceptance)
        learned = FieldTimes(
            {path: read.times.set_at.get(path, {}) for path in read.candidates},
            {path: read.times.first_set_at.get(path, {}) for path in read.candidates},
        )
        handed_off = read.times.entered_at.get(read.stage_path or "", {})
        return Loaded(labelled, source, [*notes, read.note()], learned, acceptance, handed_off)

    def _acceptance(self, model: ScoringModel, leads: list[Lead]) -> dict[str, list[AcceptanceRow]]:
        """Rep dispositions by the grade and the label leadq wrote on each lead (as handed off)."""
        from sync.plan import output_fields

        lifecycle = getattr(model.lifecycle, self.connector.crm, None)
        if lifecycle is None:
            return {}
        names = output_fields(model, self.connector.field_name)
        tables = {}
        for output in ("grade", "label"):
            if output in names:
                key = names[output]
                rows = acceptance_by(lifecycle, leads, lambda lead, key=key: lead.fields.get(key))
                if rows:
                    tables[output] = rows
        return tables

    def _read_history(
        self, model: ScoringModel, leads: list[Lead], rejected: list[Lead]
    ) -> HistoryRead:
        """One field-history read: when rejected leads' status was set (backtest and learn) and,
        for learn, when the lead fields it considers got their values and when each lead's
        stage first reached MQL or later (its handoff)."""
        from scoring.learn_candidates import candidate_fields

        paths = [STATUS_PATH] if rejected else []
        candidates: list[str] = []
        entering: dict[str, list[str]] = {}
        stage_path = None
        if self.field_history:
            candidates = [path for path in candidate_fields(model, leads)
                          if not path.startswith("company.")]
            lifecycle = getattr(model.lifecycle, self.connector.crm, None)
            stages = handoff_stages(lifecycle) if lifecycle is not None else []
            if lifecycle is not None and lifecycle.stage_field and stages:
                stage_path = f"fields.{lifecycle.stage_field}"
                entering[stage_path] = stages
            paths += [*candidates, *entering]
        if not paths:
            return HistoryRead(FieldTimes(), candidates, stage_path, 0)
        before = self.connector.stats.requests["history"]
        times = self.connector.field_history(
            leads if self.field_history else rejected, list(dict.fromkeys(paths)), entering)
        requests = self.connector.stats.requests["history"] - before
        return HistoryRead(times, candidates, stage_path, requests)


@dataclass(frozen=True)
class HistoryRead:
    times: FieldTimes
    candidates: list[str]  # the lead fields learn considers
    stage_path: str | None  # the stage field, whose history dates each handoff
    requests: int

    def note(self) -> str:
        dated = [path for path in self.candidates if self.times.set_at.get(path)]
        handed = len(self.times.entered_at.get(self.stage_path or "", {}))
        return (f"field history: when values were set, for {len(dated)} of "
                f"{len(self.candidates)} lead fields; handoffs dated for {handed:,} lead"
                f"{'' if handed == 1 else 's'} ({self.requests:,} request"
                f"{'' if self.requests == 1 else 's'})")


def _dispositions_note(dated: Rejections) -> str:
    count, undated = len(dated.outcomes), dated.by_last_change
    note = (f"rep dispositions: {count:,} lead{'' if count == 1 else 's'} a rep rejected (or "
            "found not a fit, or never reached) counted as not converted, dated when the status "
            "was set (its field history)")
    if undated:
        note += (f"; {undated:,} of them by their last change instead: no status history "
                 "says when")
    return note


@dataclass(frozen=True)
class CrmOutcomes:
    """`--crm`: the CRM the LEADQ_* settings name, through its connector."""

    field_history: bool = False  # learn: also read when the values it considers were set

    def labelled(self, model: ScoringModel, now: datetime | None) -> Loaded:
        from sync.runtime import build_connector
        from sync.settings import load_settings

        connector = build_connector(load_settings(), model, learning=True)
        return ConnectorOutcomes(connector, self.field_history).labelled(model, now)


@dataclass(frozen=True)
class CsvOutcomes:
    """A leads CSV with a label column saying who converted (and optionally when). A file without
    an id column is read too: each lead is numbered by its line."""

    leads: Path
    label: str
    positive: str | None = None
    activities: Path | None = None
    outcome_at: str | None = None
    encoding: str = "utf-8"

    def labelled(self, model: ScoringModel, now: datetime | None) -> Loaded:
        reader = CsvLeadReader(
            self.leads,
            columns=model.csv.columns,
            encoding=self.encoding,
            blank_values=model.csv.blank_values,
        )
        leads, labels, times = self._read(reader)
        converted = self._converted(labels)
        activities = self._activities(model, leads)
        end = now or _latest_moment(leads, activities, times)
        notes = []
        if self.activities is not None and self.outcome_at is None:
            notes.append(
                "no --outcome-at column: every lead is scored as of the end of the data, so "
                "activities after a conversion count too; give the conversion date column for "
                "an honest backtest"
            )
        labelled = cut_off_before_outcomes(leads, activities, converted, np.array(times), end)
        return Loaded(labelled, f"{self.leads.name} (label {self.label!r})", notes)

    def _read(self, reader: CsvLeadReader) -> tuple[list[Lead], list[str], list[float]]:
        leads: list[Lead] = []
        labels: list[str] = []
        times: list[float] = []
        label_at, time_at, unreadable = -1, None, set[str]()
        for batch in reader.batches():
            if label_at < 0:
                label_at = self._column(reader.header, self.label, "label")
                if self.outcome_at:
                    time_at = self._column(reader.header, self.outcome_at, "outcome time")
                unreadable = self._outcome_paths(reader.mapping)
            for cells, lead in batch:
                labels.append(cells[label_at] if label_at < len(cells) else "")
                times.append(self._time(cells, time_at, len(leads) + 2))
                leads.append(_without_fields(lead, unreadable))
        if not leads:
            raise CsvInputError(f"{self.leads.name}: no leads in the file")
        return leads, labels, times

    def _column(self, header: list[str], column: str, role: str) -> int:
        if column not in header:
            raise CsvInputError(
                f"{self.leads.name}: no {role} column {column!r}. Columns are: {', '.join(header)}"
            )
        return header.index(column)

    def _outcome_paths(self, mapping: dict[str, str]) -> set[str]:
        """The lead fields the label (and outcome time) columns would feed: never scored."""
        outcome_columns = {self.label, self.outcome_at} - {None}
        paths = {path for path, column in mapping.items() if column in outcome_columns}
        standard = sorted(p for p in paths if not p.startswith(("fields.", "company.fields.")))
        if standard:
            raise CsvInputError(
                f"{self.leads.name}: the outcome column feeds {standard[0]} through csv.columns; "
                "a model must not read the outcome it is measured against"
            )
        return paths

    def _time(self, cells: list[str], index: int | None, line: int) -> float:
        if index is None or index >= len(cells) or not cells[index].strip():
            return math.nan
        try:
            moment = parse_timestamp(cells[index])
        except ValueError:
            moment = None
        if moment is None:
            raise CsvInputError(f"{self.leads.name} line {line}: {cells[index]!r} is not a date")
        return moment.timestamp()

    def _converted(self, labels: list[str]) -> np.ndarray:
        values = [normalise_text(label) for label in labels]
        if self.positive is not None:
            wanted = normalise_text(self.positive)
            converted = np.array([value == wanted for value in values], dtype=bool)
            if not converted.any():
                raise CsvInputError(
                    f"{self.leads.name}: no lead has {self.label} = {self.positive!r}; "
                    f"its values are {_some_values(values)}"
                )
            return converted
        converted = np.array([value in POSITIVE_VALUES for value in values], dtype=bool)
        if not converted.any():
            raise CsvInputError(
                f"{self.leads.name}: none of the values of {self.label} ({_some_values(values)}) "
                "means converted; name the one that does with --positive"
            )
        return converted

    def _activities(self, model: ScoringModel, leads: list[Lead]) -> list[Activity]:
        if self.activities is None:
            return []
        mapping = model.csv.activities
        with ActivityIndex(
            self.activities, mapping, encoding=self.encoding, blank_values=model.csv.blank_values
        ) as index:
            return index.for_leads(lead.id for lead in leads)


def _some_values(values: list[str | None]) -> str:
    distinct = sorted({value for value in values if value is not None})
    shown = ", ".join(repr(value) for value in distinct[:6])
    return shown + (", …" if len(distinct) > 6 else "") if shown else "all empty"


def _without_fields(lead: Lead, paths: set[str]) -> Lead:
    custom = {p.removeprefix("fields.") for p in paths if p.startswith("fields.")}
    if not custom & set(lead.fields):
        return lead
    kept = {key: value for key, value in lead.fields.items() if key not in custom}
    return lead.model_copy(update={"fields": kept})


def _epochs(ids: list[str], times: dict[str, datetime]) -> np.ndarray:
    return np.array([_epoch(times.get(lead_id)) for lead_id in ids], dtype=np.float64)


def _epoch(moment: datetime | None) -> float:
    return math.nan if moment is None else moment.timestamp()


def _latest_moment(leads: list[Lead], activities: list[Activity], times: list[float]) -> datetime:
    moments = [a.occurred_at.timestamp() for a in activities]
    moments += [lead.created_at.timestamp() for lead in leads if lead.created_at]
    moments += [t for t in times if not math.isnan(t)]
    if not moments:
        return datetime.now(UTC)  # nothing in the data is dated: any moment scores alike
    return datetime.fromtimestamp(max(moments), UTC)
