from django import template

from billing.money import format_amount

register = template.Library()


@register.filter
def money(amount: int, currency: str) -> str:
    """``{{ line.amount|money:invoice.currency }}`` → ``฿1,234.00``."""
    return format_amount(int(amount), str(currency))
