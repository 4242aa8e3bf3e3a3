"""Scalars as DynamoDB attributes, so that every value comes back exactly, type included."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from sync.state import Scalar
from sync.state_dynamodb.table import AttributeValue, Item, number_attribute


def _fits_dynamodb_number(value: int | float) -> bool:
    """DynamoDB numbers hold 38 significant digits, magnitudes from 1e-130 to below 1e126."""
    number = Decimal(repr(value)).normalize()
    if number.is_zero():
        return True
    return -130 <= number.adjusted() <= 125 and len(number.as_tuple().digits) <= 38


@dataclass(frozen=True)
class NumberKinds:
    """Which values are floats, and which numbers went as text because no DynamoDB number can
    hold them (5e-324, 1e308, a 40-digit integer): what a map of values needs to come back
    exactly, type included."""

    floats: frozenset[str] = frozenset()
    as_text: frozenset[str] = frozenset()

    @classmethod
    def of(cls, values: Mapping[str, Scalar]) -> NumberKinds:
        numbers = {
            name: value
            for name, value in values.items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        }
        return cls(
            floats=frozenset(name for name, value in numbers.items() if isinstance(value, float)),
            as_text=frozenset(
                name for name, value in numbers.items() if not _fits_dynamodb_number(value)
            ),
        )

    @classmethod
    def read(cls, item: Item) -> NumberKinds:
        return cls(
            floats=frozenset(item["floats"]["SS"]) if "floats" in item else frozenset(),
            as_text=frozenset(item["numbers_as_text"]["SS"])
            if "numbers_as_text" in item
            else frozenset(),
        )

    def attributes(self) -> Item:
        attributes: Item = {}  # DynamoDB refuses empty sets: an absent set means none
        if self.floats:
            attributes["floats"] = {"SS": sorted(self.floats)}
        if self.as_text:
            attributes["numbers_as_text"] = {"SS": sorted(self.as_text)}
        return attributes

    def encode(self, name: str, value: Scalar) -> AttributeValue:
        if value is None:
            return {"NULL": True}
        if isinstance(value, bool):
            return {"BOOL": value}
        if isinstance(value, int | float):
            return {"S": repr(value)} if name in self.as_text else number_attribute(value)
        return {"S": value}

    def decode(self, name: str, value: AttributeValue) -> Scalar:
        if "NULL" in value:
            return None
        if "BOOL" in value:
            return bool(value["BOOL"])
        if "N" in value or name in self.as_text:
            text = value["N"] if "N" in value else value["S"]
            return float(text) if name in self.floats else int(Decimal(text))
        return str(value["S"])


def encode_scalars(values: Mapping[str, Scalar]) -> tuple[Item, Item]:
    """The values as attributes, and the attributes that say which numbers are which."""
    kinds = NumberKinds.of(values)
    return {name: kinds.encode(name, value) for name, value in values.items()}, kinds.attributes()


def decode_scalars(values: Item, kinds: NumberKinds) -> dict[str, Scalar]:
    return {name: kinds.decode(name, value) for name, value in values.items()}
