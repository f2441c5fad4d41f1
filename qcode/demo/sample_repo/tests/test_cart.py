import pytest
from shop.cart import apply_discount, subtotal


def test_subtotal_counts_quantities():
    assert subtotal([{"price": 2.5, "quantity": 2}, {"price": 1}]) == 6


def test_discount_is_a_percentage():
    assert apply_discount(200, 10) == 180
    assert apply_discount(50, 50) == 25


def test_discount_bounds():
    with pytest.raises(ValueError):
        apply_discount(10, 150)
