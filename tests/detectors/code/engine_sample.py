"""A module to index and read back in every agent shape (80 lines, no line longer than a terminal)."""

ENGINE = '''"""Quote engine: list prices, volume tiers and contract discounts for one order."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

TIER_BREAKS = (10, 50, 250, 1000)
TIER_RATES = (Decimal("0.00"), Decimal("0.04"), Decimal("0.09"), Decimal("0.13"), Decimal("0.18"))
FLOOR_MARGIN = Decimal("0.22")


@dataclass(frozen=True)
class LineItem:
    sku: str
    quantity: int
    list_price: Decimal
    unit_cost: Decimal


@dataclass
class Quote:
    customer_id: str
    items: list[LineItem] = field(default_factory=list)
    contract_discount: Decimal = Decimal("0")
    currency: str = "EUR"

    def subtotal(self) -> Decimal:
        return sum((item.list_price * item.quantity for item in self.items), Decimal("0"))

    def tier_rate(self) -> Decimal:
        units = sum(item.quantity for item in self.items)
        for index, limit in enumerate(TIER_BREAKS):
            if units < limit:
                return TIER_RATES[index]
        return TIER_RATES[-1]

    def discounted(self, item: LineItem) -> Decimal:
        rate = self.tier_rate() + self.contract_discount
        price = item.list_price * (Decimal("1") - rate)
        floor = item.unit_cost / (Decimal("1") - FLOOR_MARGIN)
        return max(price, floor).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)

    def total(self) -> Decimal:
        amount = sum((self.discounted(item) * item.quantity for item in self.items), Decimal("0"))
        return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)

    def margin(self) -> Decimal:
        cost = sum((item.unit_cost * item.quantity for item in self.items), Decimal("0"))
        total = self.total()
        if total == 0:
            return Decimal("0")
        return ((total - cost) / total).quantize(Decimal("0.0001"))


def approval_level(quote: Quote) -> str:
    margin = quote.margin()
    if margin >= Decimal("0.35"):
        return "auto"
    if margin >= FLOOR_MARGIN:
        return "manager"
    if quote.total() > Decimal("250000"):
        return "board"
    return "finance"


def split_shipments(quote: Quote, pallet_size: int = 48) -> list[list[LineItem]]:
    shipments: list[list[LineItem]] = [[]]
    used = 0
    for item in sorted(quote.items, key=lambda i: (-i.quantity, i.sku)):
        pallets = math.ceil(item.quantity / pallet_size)
        if used + pallets > 26:
            shipments.append([])
            used = 0
        shipments[-1].append(item)
        used += pallets
    return shipments
'''
LINES = ENGINE.splitlines()
