"""Companies a HubSpot pull read, kept on disk (connectors/spooled_companies.py)."""

from __future__ import annotations

import tracemalloc

from connectors.records import Company
from connectors.spooled_companies import SpooledCompanies


def test_a_company_comes_back_whole_and_a_deleted_one_is_remembered_as_none() -> None:
    cache = SpooledCompanies()
    acme = Company(id="7", name="Acme", employees=250, annual_revenue=1.5e6,
                   fields={"tier": "gold"})
    cache["7"] = acme
    cache.setdefault("8", None)

    assert (cache["7"], cache.get("8"), "8" in cache, "9" in cache) == (acme, None, True, False)
    assert (len(cache), sorted(cache)) == (2, ["7", "8"])
    cache.clear()
    assert len(cache) == 0 and "7" not in cache
    cache.close()


def test_fifty_thousand_companies_stay_out_of_the_process_memory() -> None:
    cache = SpooledCompanies()
    tracemalloc.start()
    for number in range(50_000):
        cache[str(number)] = Company(id=str(number), name=f"Company {number}", employees=number)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert peak < 2_000_000  # as objects in a dict they took tens of MB
    assert cache["49999"] == Company(id="49999", name="Company 49999", employees=49_999)
    cache.close()
