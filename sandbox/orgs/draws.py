"""Seeded draws: every record has its own stream of uniforms, so any record can be rebuilt alone.

A stream is keyed by (org seed, record kind, index). Two sources feed streams, both stable across
Python versions and machines: `mersenne_draws` (Python's `Random(seed).random()`, whose sequence
Python guarantees: ~4 µs to seed, 0.04 µs a draw) for people, who need a hundred draws or more,
and `digest_draws` (BLAKE2b in counter mode: ~0.5 µs to start, 1.5 µs per 16 draws) for
companies and owners, who need about a dozen. A per-record
`numpy.random.default_rng([seed, kind, index])` costs ~13 µs to build and ~1 µs a scalar draw.
"""

from __future__ import annotations

import hashlib
import math
import random
import struct
from bisect import bisect_right
from collections.abc import Callable, Sequence
from itertools import chain, count
from typing import Generic, TypeVar

_T = TypeVar("_T")

# The record kinds, each with its own streams.
OWNER_STREAM, COMPANY_STREAM, PERSON_STREAM, SIMULATION_STREAM, ORG_STREAM = 1, 2, 3, 4, 5
PLANTED_STREAM = 6  # sales_fields: fields planted for learn's leak checks


class Weighted(Generic[_T]):
    """A fixed table of values with relative weights, picked by one uniform draw."""

    __slots__ = ("_cumulative", "_total", "values")

    def __init__(self, weighted: Sequence[tuple[_T, float]]) -> None:
        self.values: tuple[_T, ...] = tuple(value for value, _ in weighted)
        running, cumulative = 0.0, []
        for _, weight in weighted:
            running += weight
            cumulative.append(running)
        self._cumulative = tuple(cumulative)
        self._total = running

    def at(self, uniform: float) -> _T:
        return self.values[bisect_right(self._cumulative, uniform * self._total)]


class Draws:
    """Draws for one record, all made from its stream of uniforms in [0, 1)."""

    __slots__ = ("random",)

    def __init__(self, uniform: Callable[[], float]) -> None:
        self.random = uniform

    def pick(self, table: Weighted[_T]) -> _T:
        return table.at(self.random())

    def choose(self, values: Sequence[_T]) -> _T:
        return values[int(self.random() * len(values))]

    def below(self, bound: int) -> int:
        return min(int(self.random() * bound), bound - 1)

    def chance(self, probability: float) -> bool:
        return self.random() < probability

    def uniform_between(self, low: float, high: float) -> float:
        return low + (high - low) * self.random()

    def normal(self) -> float:
        radius = math.sqrt(-2.0 * math.log(1.0 - self.random()))
        return radius * math.cos(2.0 * math.pi * self.random())

    def lognormal(self, median: float, sigma: float) -> float:
        return median * math.exp(sigma * self.normal())

    def exponential(self, mean: float) -> float:
        return -mean * math.log(1.0 - self.random())

    def delay_within(self, mean: float, limit: float) -> float:
        """An exponential delay, redrawn uniformly below `limit` when it would pass it."""
        delay = self.exponential(mean)
        return delay if delay < limit else limit * self.random()

    def poisson(self, mean: float) -> int:
        if mean <= 0.0:
            return 0
        if mean > 30.0:
            return max(0, round(mean + math.sqrt(mean) * self.normal()))
        threshold, count, product = math.exp(-mean), 0, self.random()
        while product > threshold:
            count += 1
            product *= self.random()
        return count

    def distinct_below(self, population: int, count: int) -> list[int]:
        """`count` distinct indices below `population` (Floyd's algorithm: O(count) memory)."""
        chosen: dict[int, None] = {}
        for upper in range(population - count, population):
            candidate = self.below(upper + 1)
            chosen[upper if candidate in chosen else candidate] = None
        return list(chosen)


def _stream_key(seed: int, kind: int, index: int) -> bytes:
    return f"{seed}:{kind}:{index}:".encode()


def mersenne_draws(seed: int, kind: int, index: int) -> Draws:
    digest = hashlib.blake2b(_stream_key(seed, kind, index), digest_size=16).digest()
    return Draws(random.Random(int.from_bytes(digest, "little")).random)


_WORDS_PER_BLOCK = struct.Struct("<16I")
_WORD_SCALE = 2.0**-32


def digest_draws(seed: int, kind: int, index: int) -> Draws:
    key = _stream_key(seed, kind, index)

    def block(number: int) -> list[float]:
        digest = hashlib.blake2b(key + number.to_bytes(8, "little"), digest_size=64).digest()
        return [word * _WORD_SCALE for word in _WORDS_PER_BLOCK.unpack(digest)]

    return Draws(chain.from_iterable(map(block, count())).__next__)


class Permutation:
    """A seeded bijection of range(size): record `i` gets a distinct slot, so names never clash.

    Slots advance by a multiplier near size / golden ratio, coprime to size, which spreads
    neighbouring records far apart.
    """

    def __init__(self, size: int, seed: int, kind: int) -> None:
        multiplier = max(1, round(size * 0.6180339887))
        while math.gcd(multiplier, size) != 1:
            multiplier += 1
        self.size, self._multiplier = size, multiplier
        self._offset = digest_draws(seed, ORG_STREAM, kind).below(size)

    @classmethod
    def of_names(cls, records: int, combinations: int, seed: int, kind: int) -> Permutation:
        """Name slots for `records`: whole cycles of every one of `combinations` names."""
        size = combinations * ((records + combinations - 1) // combinations)
        return cls(size, seed, kind)

    def __call__(self, index: int) -> int:
        return (index * self._multiplier + self._offset) % self.size
