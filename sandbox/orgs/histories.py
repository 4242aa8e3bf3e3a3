"""Activity histories: what each person did on the vendor's site, in its e-mails and with sales.

A history is background activity over the time the person has been known (its mix depends on
the persona and on whether someone owns the person), the webinars they registered for and
attended, and, more often for good-fit people, a burst of buying intent over a few days. No
marketing e-mail is opened after an unsubscribe or a bounce.

Activities are drafted as (age in whole seconds before `now`, the generator's own type,
activity): the generator's type tells a "Contact sales" form from other form submissions, and
weighs more in the hidden intent than a newsletter sign-up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from operator import itemgetter

from sandbox.orgs.draws import Draws, Weighted
from sandbox.orgs.propensity import intent_effect, intent_weight, sigmoid
from sandbox.orgs.records import OrgSpec, SynthActivity, new_activity
from sandbox.orgs.vocabulary import (
    BLOG_POSTS,
    CALL_SUBJECTS,
    CONTACT_SALES_FORM,
    CONTACT_SALES_PATH,
    DEMO_FORM,
    DEMO_PATH,
    DOWNLOADS,
    MEETING_SUBJECTS,
    NURTURE_EMAILS,
    OTHER_PAGES,
    PRICING_PAGES,
    PRODUCT_PAGES,
    SALES_REPLY_SUBJECTS,
    SIGNUP_FORMS,
    VENDOR_SITE,
    WEBINAR_TOPICS,
    Persona,
)

DAY = 86_400.0
ONE_SECOND = timedelta(seconds=1)

Details = tuple[str | None, str | None, str | None, str | None]  # url, form, campaign, subject
# A drafted activity: its age in whole seconds before `now`, the generator's type, the activity.
Draft = tuple[int, str, SynthActivity]

_MONTH_NAMES = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)


def month_and_year(moment: datetime) -> str:
    return f"{_MONTH_NAMES[moment.month - 1]} {moment.year}"


# ---- what each kind of activity carries ------------------------------------------------------


def _on_site(path: str, form: str | None = None) -> Details:
    return f"{VENDOR_SITE}{path}", form, None, None


def _spread(details: Sequence[Details], share: float) -> list[tuple[Details, float]]:
    return [(detail, share / len(details)) for detail in details]


def _email(campaign: str, subject: str, url: str | None = None) -> Details:
    return url, None, campaign, subject


def _subjects(subjects: Sequence[str]) -> Weighted[Details]:
    return Weighted(_spread([(None, None, None, subject) for subject in subjects], 1))


@lru_cache(maxsize=256)
def _newsletter(activity_type: str, year: int, month: int) -> Details:
    edition = f"{_MONTH_NAMES[month - 1]} {year}"
    url = f"{VENDOR_SITE}/blog?utm_campaign=newsletter" if activity_type == "email_click" else None
    return _email(f"Newsletter {edition}", f"The RevOps digest: {edition}", url)


@dataclass(frozen=True, slots=True)
class _ActivityKind:
    """How the generator draws one kind of activity and what it weighs in the hidden intent."""

    type: str
    details: Weighted[Details]
    newsletter_share: float = 0.0  # e-mails: the share that is the month's newsletter

    @property
    def intent(self) -> float:
        weights = {intent_weight(self.type, form) for _, form, _, _ in self.details.values}
        if len(weights) != 1:
            raise ValueError(f"{self.type}: details must share one intent weight")
        return weights.pop()

    def details_at(self, uniform: Callable[[], float], occurred_at: datetime) -> Details:
        if self.newsletter_share and uniform() < self.newsletter_share:
            return _newsletter(self.type, occurred_at.year, occurred_at.month)
        return self.details.at(uniform())


_MARKETING_EMAILS = Weighted(
    _spread([_email(campaign, subject) for campaign, subject in NURTURE_EMAILS], 1.0)
)
_EMAIL_CLICKS = Weighted(
    _spread(
        [
            _email(campaign, subject, f"{VENDOR_SITE}/blog/{post}?utm_medium=email")
            for (campaign, subject), post in zip(NURTURE_EMAILS, BLOG_POSTS, strict=False)
        ],
        1.0,
    )
)
_PAGE_VIEWS = Weighted(
    _spread([_on_site(f"/blog/{post}") for post in BLOG_POSTS], 0.5)
    + _spread([_on_site(path) for path in PRODUCT_PAGES], 0.25)
    + _spread([_on_site(path) for path in OTHER_PAGES], 0.25)
)
# The generator's kinds: "contact_sales" is a form_submission of the Contact sales form.
_KINDS: dict[str, _ActivityKind] = {
    "page_view": _ActivityKind("page_view", _PAGE_VIEWS),
    "pricing_page_view": _ActivityKind(
        "pricing_page_view", Weighted(_spread([_on_site(p) for p in PRICING_PAGES], 1.0))
    ),
    "form_submission": _ActivityKind(
        "form_submission",
        Weighted(_spread([_on_site(path, form) for form, path in SIGNUP_FORMS], 1.0)),
    ),
    "contact_sales": _ActivityKind(
        "form_submission", Weighted([(_on_site(CONTACT_SALES_PATH, CONTACT_SALES_FORM), 1.0)])
    ),
    "demo_request": _ActivityKind(
        "demo_request", Weighted([(_on_site(DEMO_PATH, DEMO_FORM), 1.0)])
    ),
    "content_download": _ActivityKind(
        "content_download",
        Weighted(_spread([_on_site(path, form) for form, path in DOWNLOADS], 1.0)),
    ),
    "email_open": _ActivityKind("email_open", _MARKETING_EMAILS, newsletter_share=0.4),
    "email_click": _ActivityKind("email_click", _EMAIL_CLICKS, newsletter_share=0.4),
    "unsubscribe": _ActivityKind("unsubscribe", _MARKETING_EMAILS, newsletter_share=0.4),
    "bounce": _ActivityKind("bounce", _MARKETING_EMAILS, newsletter_share=0.4),
    "email_reply": _ActivityKind("email_reply", _subjects(SALES_REPLY_SUBJECTS)),
    "call": _ActivityKind("call", _subjects(CALL_SUBJECTS)),
    "meeting_booked": _ActivityKind("meeting_booked", _subjects(MEETING_SUBJECTS)),
}
_DRAFT_INTENT: dict[str, float] = {
    **{name: kind.intent for name, kind in _KINDS.items()},
    "webinar_registered": intent_weight("webinar_registered", None),
    "webinar_attended": intent_weight("webinar_attended", None),
}

# ---- which kinds a person does -------------------------------------------------------------------

_BACKGROUND_WEIGHTS: dict[str, list[tuple[str, float]]] = {
    "business": [
        ("page_view", 45), ("email_open", 26), ("email_click", 8), ("content_download", 4),
        ("pricing_page_view", 3), ("form_submission", 3), ("call", 2), ("email_reply", 0.5),
        ("unsubscribe", 0.6), ("bounce", 0.3),
    ],
    "personal": [
        ("page_view", 52), ("email_open", 26), ("email_click", 8), ("content_download", 5),
        ("pricing_page_view", 3), ("form_submission", 4), ("unsubscribe", 1.2), ("bounce", 0.6),
    ],
    "student": [
        ("page_view", 60), ("email_open", 14), ("email_click", 5), ("content_download", 16),
        ("form_submission", 4), ("pricing_page_view", 1), ("unsubscribe", 0.5),
    ],
    "competitor": [
        ("page_view", 40), ("pricing_page_view", 30), ("content_download", 12),
        ("email_open", 12), ("email_click", 4), ("form_submission", 2),
    ],
}
_BURST_WEIGHTS: list[tuple[str, float]] = [
    ("pricing_page_view", 34), ("demo_request", 11), ("email_reply", 13), ("meeting_booked", 8),
    ("contact_sales", 7), ("content_download", 10), ("call", 9), ("page_view", 8),
]
# Sales only calls or books meetings with people someone owns.
_SALES_TOUCHES = frozenset({"call", "meeting_booked"})


def _type_table(weights: list[tuple[str, float]], *, owned: bool) -> Weighted[str]:
    return Weighted([(name, w) for name, w in weights if owned or name not in _SALES_TOUCHES])


_BACKGROUND_TYPES: dict[tuple[str, bool], Weighted[str]] = {
    (persona, owned): _type_table(weights, owned=owned)
    for persona, weights in _BACKGROUND_WEIGHTS.items()
    for owned in (False, True)
}
_BURST_TYPES: dict[bool, Weighted[str]] = {
    owned: _type_table(_BURST_WEIGHTS, owned=owned) for owned in (False, True)
}
# People coming back to the site after `spec.now` (SynthOrg.simulate_activity).
SIMULATED_TYPES = Weighted(
    [
        ("page_view", 40), ("pricing_page_view", 15), ("email_open", 15), ("email_click", 8),
        ("content_download", 7), ("form_submission", 4), ("contact_sales", 3),
        ("demo_request", 4), ("email_reply", 4),
    ]
)
_EMAIL_TYPES = frozenset({"email_open", "email_click"})
_OPT_OUTS = frozenset({"unsubscribe", "bounce"})
_age_of = itemgetter(0)

# ---- drafting ----------------------------------------------------------------------------------


def draft(
    uniform: Callable[[], float], person_key: str, draft_type: str, age_seconds: int, now: datetime
) -> Draft:
    """An activity of one of the generator's kinds, with details drawn from `uniform`."""
    kind = _KINDS[draft_type]
    occurred_at = now - ONE_SECOND * age_seconds
    url, form, campaign, subject = kind.details_at(uniform, occurred_at)
    activity = new_activity(person_key, kind.type, occurred_at, url, form, campaign, subject)
    return age_seconds, draft_type, activity


def _fixed_draft(
    person_key: str, now: datetime, age_seconds: float, activity_type: str, details: Details
) -> Draft:
    whole_seconds = round(age_seconds)
    occurred_at = now - ONE_SECOND * whole_seconds
    activity = new_activity(person_key, activity_type, occurred_at, *details)
    return whole_seconds, activity_type, activity


def _silence_email_after_opt_out(drafts: list[Draft]) -> list[Draft]:
    """No marketing e-mail is opened after an unsubscribe or a bounce (drafts oldest first)."""
    kept, opted_out = [], False
    for drafted in drafts:
        draft_type = drafted[1]
        if opted_out and draft_type in _EMAIL_TYPES:
            continue
        if draft_type in _OPT_OUTS:
            if opted_out:
                continue
            opted_out = True
        kept.append(drafted)
    return kept


def intent_of(drafts: list[Draft]) -> float:
    """The hidden recent-intent term of a drafted history."""
    return intent_effect([(_DRAFT_INTENT[kind], age / DAY) for age, kind, _ in drafts])


@dataclass(frozen=True, slots=True)
class _Webinar:
    campaign: str
    age_days: float  # how long before spec.now it was held


def _webinar_schedule(spec: OrgSpec) -> tuple[_Webinar, ...]:
    """A webinar every four weeks at 16:00 UTC, the latest 10 to 17 days before `now`."""
    webinars = []
    age_days, number = 10.0 + (spec.seed % 7) + 8.0 / 24.0, 0
    while age_days < spec.history_days:
        held_on = spec.now - timedelta(days=age_days)
        topic = WEBINAR_TOPICS[(spec.seed + number) % len(WEBINAR_TOPICS)]
        webinars.append(_Webinar(f"Webinar: {topic} ({month_and_year(held_on)})", age_days))
        age_days += 28.0
        number += 1
    return tuple(webinars)


class Histories:
    """Drafts the activity histories of one org's people."""

    def __init__(self, spec: OrgSpec) -> None:
        self._now, self._history_days = spec.now, spec.history_days
        self._webinars = _webinar_schedule(spec)

    def draft(
        self,
        rng: Draws,
        person_key: str,
        persona: Persona,
        fit: float,
        window_days: float,
        owner_key: str | None,
    ) -> list[Draft]:
        """A person's history, oldest first: background, webinars, maybe a burst of intent."""
        now, window_seconds = self._now, window_days * DAY
        engagement = rng.lognormal(7.0, 1.0) * (1.6 if persona == "student" else 1.0)
        background = min(600, rng.poisson(engagement * window_days / self._history_days))
        owned = owner_key is not None
        pick_type, uniform = _BACKGROUND_TYPES[persona, owned].at, rng.random
        types = [pick_type(uniform()) for _ in range(background)]
        drafts = [
            draft(uniform, person_key, draft_type, int(uniform() * window_seconds), now)
            for draft_type in types
        ]
        drafts.extend(self._webinar_drafts(rng, person_key, engagement, window_days))
        if rng.chance(sigmoid(-1.2 + 0.6 * fit)):  # good fit, more often
            drafts.extend(self._burst_drafts(rng, person_key, window_seconds, owned))
        drafts.sort(key=_age_of, reverse=True)
        if _OPT_OUTS.isdisjoint(types):
            return drafts
        return _silence_email_after_opt_out(drafts)

    def _webinar_drafts(
        self, rng: Draws, person_key: str, engagement: float, window_days: float
    ) -> list[Draft]:
        drafts: list[Draft] = []
        registration_chance = min(0.4, 0.006 * engagement)
        now = self._now
        for webinar in self._webinars:
            if webinar.age_days >= window_days or not rng.chance(registration_chance):
                continue
            details = (None, None, webinar.campaign, None)
            earliest = min(window_days, webinar.age_days + 14.0)
            registered_age = rng.uniform_between(webinar.age_days, earliest)
            drafts.append(
                _fixed_draft(person_key, now, registered_age * DAY, "webinar_registered", details)
            )
            if rng.chance(0.45):
                attended_age = webinar.age_days - rng.uniform_between(0.0, 0.04)
                drafts.append(
                    _fixed_draft(person_key, now, attended_age * DAY, "webinar_attended", details)
                )
        return drafts

    def _burst_drafts(
        self, rng: Draws, person_key: str, window_seconds: float, owned: bool
    ) -> list[Draft]:
        """A few days of buying intent: pricing, demo requests, replies, meetings."""
        start, now = rng.random() * window_seconds, self._now
        burst_types = _BURST_TYPES[owned]
        drafts = []
        for _ in range(1 + rng.poisson(2.0)):
            age_seconds = int(start - rng.delay_within(3.0 * DAY, start))
            drafts.append(draft(rng.random, person_key, rng.pick(burst_types), age_seconds, now))
        return drafts
