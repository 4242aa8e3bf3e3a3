"""A reasons line cut to the length of the field that receives it."""

from __future__ import annotations

import pytest

from scoring.reasons import reasons_within

LINE = "Requested a demo (+38); Pricing page (+30); Company size (+20)"


def test_a_line_that_fits_is_kept_whole() -> None:
    assert reasons_within(LINE, len(LINE), "; ") == LINE


@pytest.mark.parametrize(
    ("limit", "cut"),
    [
        (len(LINE) - 1, "Requested a demo (+38); Pricing page (+30); …"),
        (45, "Requested a demo (+38); Pricing page (+30); …"),
        (44, "Requested a demo (+38); …"),
        (25, "Requested a demo (+38); …"),
    ],
)
def test_a_long_line_keeps_the_whole_reasons_that_fit_then_an_ellipsis(
    limit: int, cut: str
) -> None:
    assert reasons_within(LINE, limit, "; ") == cut


def test_a_first_reason_longer_than_the_field_is_cut_inside_it() -> None:
    assert reasons_within(LINE, 10, "; ") == "Requested…"


def test_the_cut_line_never_exceeds_the_limit() -> None:
    assert all(len(reasons_within(LINE, n, " | ")) <= n for n in range(len(LINE) + 5))
