from balances.money import format_amount


def money_text(value, currency: str) -> str:
    return f"{format_amount(value, currency)} {currency}"
