"""Which lead fields `leadq learn` must not learn from, and why.

Two kinds, kept apart:

- **never learned**: leadq's own output fields (`leadq_score`, `leadq_grade`, the reasons…, in any
  CRM's spelling, e.g. `leadq_Score__c`) — learning from them learns the current model back — and
  the CRM's bookkeeping fields (record ids, audit stamps, conversion bookkeeping such as
  `IsConverted` or `hs_lifecyclestage_customer_date`). These are left out by name, silently
  overridable by nobody.
- **suspected leaks**: fields whose values are most likely filled in after the outcome (a rep's
  rating of the lead, a lost reason, a call's duration). The evidence is combined, and every flag
  says which evidence it rests on: how well the field ranks conversions alone (and against every
  other field together), how many conversions fall on values that (nearly) always converted, and
  whether its name reads like a field sales fill in. A legitimate field with one rare value that
  converts very well (a partner's referrals) is not flagged: such values hold few conversions.
  `learn.keep` in the model (or `--keep`) overrides a flag.

Where the CRM keeps field history (HubSpot's `propertiesWithHistory`, Salesforce's LeadHistory /
ContactHistory), the connector says when each lead's current value of a field was set. A value
set at or after the moment the lead is scored as of (its conversion) was not known before the
outcome: a field whose converted leads mostly got their value that late is a leak, whatever its
name or figures ("set after conversion for 97% of converted leads"). So is a field that, for the
leads handed to sales (their stage first reaching MQL or later: `handoff_stages`), mostly first
got a value after the handoff — sales filled it in, for leads that never converted too ("set
after handoff for 93% of handed-off leads"). A field the history shows set before the outcome
(and not after handoffs) is not suspected for its name alone.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scoring.config import CrmLifecycle, ScoringModel

LEAK_AUC = 0.9  # alone this good is near-perfect
DOMINANT_AUC = 0.75  # from here on, compare with every other feature together
NAMED_AUC = 0.7  # with a sales-entered name, this good alone is suspicious
LEAK_PURITY = 0.95  # a value this pure is near-deterministic
NAMED_PURITY = 0.8  # with a sales-entered name, a value this pure is suspicious
PURE_SHARE = 0.25  # near-deterministic values holding this share of conversions give it away
LATE_SHARE = 0.5  # converted leads whose value was set after their conversion: a leak from here
EARLY_SHARE = 0.05  # at most this share set late: the history clears a suspicious name
MIN_DATED = 20  # converted leads with a dated value the history evidence needs

OWN_PREFIX = "leadq_"
BOOKKEEPING = re.compile(
    r"^(id|hs_object_id|(hs_)?(createdate|lastmodifieddate)|hs_(created|updated)_by_user_id"
    r"|hs_all_.*|hs_user_ids_of_all_.*|hs_lifecyclestage_.*_date|hs_date_(entered|exited)_.*"
    r"|hs_time_in_.*|hs_v2_.*|hs_latest_source_timestamp|hs_lead_status_date"
    r"|hubspot_owner_assigneddate|hs_merged_object_ids|hs_calculated_.*"
    r"|isdeleted|isconverted|converted.*|createddate|createdbyid|lastmodifieddate"
    r"|lastmodifiedbyid|systemmodstamp|lastactivitydate|lastvieweddate|lastreferenceddate"
    r"|lasttransferdate|masterrecordid|isunreadbyowner|recordtypeid|ownerid|jigsaw.*"
    r"|emailbounced(date|reason)|photourl|owner\..*)$"
)
DISPOSITION_FIELDS = frozenset({"lead_status", "hs_lead_status", "status"})
SALES_ENTERED_WORDS = frozenset({
    "quality", "rating", "rated", "grade", "disposition", "reason", "outcome", "result", "won",
    "lost", "closed", "converted", "deal", "deals", "opportunity", "qualified", "qualification",
    "disqualified", "unqualified", "rejected", "rejection", "accepted", "tag", "tags", "note",
    "notes", "comment", "comments", "feedback", "profile", "index", "interest", "interested",
    "followup", "revert", "duration", "sales", "rep", "stage", "status",
})
SALES_ENTERED_PAIRS = frozenset({
    ("last", "activity"), ("notable", "activity"), ("follow", "up"), ("call", "status"),
    ("call", "result"), ("meeting", "held"), ("demo", "held"),
})


def never_learned(path: str, model: ScoringModel) -> str | None:
    """Why learn must never use this lead field (None: it may)."""
    key = path.removeprefix("company.").removeprefix("fields.")
    spelled = _plain(key)
    if spelled.startswith(OWN_PREFIX) or spelled in _own_outputs(model):
        return "leadq's own output"
    if BOOKKEEPING.match(spelled):
        return "CRM bookkeeping"
    if spelled in DISPOSITION_FIELDS:
        return "the rep's disposition: an outcome (lifecycle dispositions), never a feature"
    return None


def _plain(name: str) -> str:
    """A CRM field name as one spelling: `leadq_Score__c` → `leadq_score`."""
    return name.removesuffix("__c").removesuffix("__C").lower()


def _own_outputs(model: ScoringModel) -> set[str]:
    names = {name for name in model.output.fields.model_dump().values() if name}
    if model.predictive is not None:
        names |= {model.predictive.field, model.predictive.reasons_field} - {None}
    return {_plain(str(name)) for name in names}


def sales_entered_name(path: str) -> bool:
    """Whether the field's name reads like one sales fill in after talking to the lead: a word
    such as quality, rating, status, reason, notes or tags (`Lead Quality`, `Rep_Rating__c`)."""
    key = path.rpartition(".")[2].removesuffix("__c")
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key).lower()
    words = [word for word in re.split(r"[^a-z0-9]+", spaced) if word]
    pairs = set(itertools.pairwise(words))
    return bool(SALES_ENTERED_WORDS.intersection(words) or SALES_ENTERED_PAIRS & pairs)


@dataclass(frozen=True)
class PureValue:
    """A value of a field whose leads (nearly) always converted."""

    label: str
    leads: int
    rate: float


@dataclass(frozen=True)
class DatedValues:
    """What the CRM's field history says about one field, per labelled lead, in epoch seconds
    (NaN: unknown, or no value)."""

    set_at: np.ndarray  # when the current value was set
    first_set_at: np.ndarray  # when the field first held a value
    handed_off_at: np.ndarray  # when the lead was handed to sales (NaN: never, or not dated)


@dataclass(frozen=True)
class LateValues:
    """What the CRM's field history says about one field: of the converted leads whose value has
    a known set time, how many got it at or after their conversion; of the handed-off leads
    whose field's first value is dated, how many first got one after the handoff."""

    dated: int  # converted leads with a value and the time it was set
    late: int  # of those, set at or after the conversion
    handed: int = 0  # handed-off leads with the time the field first held a value
    handed_late: int = 0  # of those, first set after the handoff

    @property
    def share(self) -> float:
        return self.late / self.dated if self.dated else 0.0

    @property
    def conclusive(self) -> bool:
        return self.dated >= MIN_DATED

    @property
    def handoff_share(self) -> float:
        return self.handed_late / self.handed if self.handed else 0.0

    @property
    def late_after_handoff(self) -> bool:
        """Mostly first set after the handoff: sales filled it in."""
        return self.handed >= MIN_DATED and self.handoff_share >= LATE_SHARE

    def phrase(self) -> str:
        return (f"set after conversion for {self.share:.0%} of converted leads "
                f"({self.late:,} of {self.dated:,} with a dated value)")

    def handoff_phrase(self) -> str:
        return (f"set after handoff for {self.handoff_share:.0%} of handed-off leads "
                f"({self.handed_late:,} of {self.handed:,} with a dated first value)")


def late_values(
    dates: DatedValues, converted: np.ndarray, cutoff: np.ndarray, has_outcome_time: np.ndarray
) -> LateValues:
    """Compare, lead by lead, when the current value was set with the moment the lead is scored
    as of (its conversion, when dated), and when the field first held a value with the
    lead's handoff (strictly after: a value written with the handoff was known at it)."""
    set_at = dates.set_at
    dated = converted & has_outcome_time & ~np.isnan(set_at)
    late = dated & (np.nan_to_num(set_at, nan=-np.inf) >= cutoff)
    handed = ~np.isnan(dates.handed_off_at) & ~np.isnan(dates.first_set_at)
    handed_late = handed & (np.nan_to_num(dates.first_set_at, nan=-np.inf)
                            > np.nan_to_num(dates.handed_off_at, nan=np.inf))
    return LateValues(int(dated.sum()), int(late.sum()), int(handed.sum()),
                      int(handed_late.sum()))


def handoff_stages(lifecycle: CrmLifecycle) -> list[str]:
    """The stage values that mean sales has the lead: the MQL value and every later stage, but
    for the recycle and disqualified statuses (leadq sets those without handing off)."""
    mql = lifecycle.stage_values.get("mql")
    if mql is None or mql not in lifecycle.stage_order:
        return []
    ours = {lifecycle.recycle_status, lifecycle.disqualified_status}
    return [stage for stage in lifecycle.stage_order[lifecycle.stage_order.index(mql):]
            if stage not in ours]


@dataclass(frozen=True)
class FieldEvidence:
    """What the outcomes say about one field (or one of the model's rules)."""

    source: str
    alone: float  # ROC AUC of the field by itself, in its better direction
    together: float | None  # in-sample ROC AUC of every other field together, when measured
    purest: PureValue | None  # the value converting best among those with enough leads
    pure_share: float  # share of all conversions on near-deterministic values
    named: bool  # the name reads like a sales-entered field
    history: LateValues | None = None  # when the CRM's field history dated the values

    def dated_history(self) -> LateValues | None:
        """The field history's evidence, when it dated enough leads to say anything."""
        history = self.history
        if history is None or not (history.conclusive or history.late_after_handoff):
            return None
        return history

    def reason(self) -> str | None:
        """The evidence that makes this field a suspected leak, in words (None: not one)."""
        named_purity = self.purest is not None and self.purest.rate >= NAMED_PURITY
        history = self.dated_history()
        suspected = (
            self.alone >= LEAK_AUC
            or self.pure_share >= PURE_SHARE
            or (self.alone >= DOMINANT_AUC and self.together is not None
                and self.alone >= self.together)
            or (self.named and not self._cleared() and (self.alone >= NAMED_AUC or named_purity))
            or self._late_after_conversion()
            or (history is not None and history.late_after_handoff)
        )
        return "; ".join(self.evidence()) if suspected else None

    def _late_after_conversion(self) -> bool:
        history = self.dated_history()
        return history is not None and history.conclusive and history.share >= LATE_SHARE

    def _cleared(self) -> bool:
        """The history shows the field set before the outcome and before any handoff."""
        history = self.dated_history()
        return (history is not None and history.conclusive and history.share <= EARLY_SHARE
                and not history.late_after_handoff)

    def evidence(self) -> list[str]:
        history = self.dated_history()
        late = self._late_after_conversion()
        said = [history.phrase()] if history is not None and late else []
        if history is not None and history.late_after_handoff:
            said.append(history.handoff_phrase())
        said += [f"alone it ranks conversions with ROC AUC {self.alone:.2f}"
                + (f" (every other field together: {self.together:.2f})"
                   if self.together is not None else "")]
        if self.purest is not None:
            said.append(f"{self.purest.label!r} ({self.purest.leads:,} leads) converted "
                        f"{self.purest.rate:.1%}")
        if self.pure_share > 0:
            said.append(f"values converting {LEAK_PURITY:.0%} or more hold "
                        f"{self.pure_share:.0%} of all conversions")
        if self.named:
            said.append("its name reads like a field sales fill in")
        if history is not None and history.conclusive and not late:
            said.append(f"its history: {history.phrase()}")
        return said
