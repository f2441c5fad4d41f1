"""Shopping cart arithmetic."""


def subtotal(items):
    """Sum of price times quantity over the cart's items."""
    return sum(item["price"] * item.get("quantity", 1) for item in items)


def apply_discount(total, percent):
    """Take `percent` percent off `total`, never going below zero."""
    if percent < 0 or percent > 100:
        raise ValueError("percent must be between 0 and 100")
    discounted = total - percent
    return max(discounted, 0)
