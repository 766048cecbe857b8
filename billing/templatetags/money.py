from django import template

from billing.money import format_amount, format_rate

register = template.Library()


@register.filter
def money(amount: int, currency: str) -> str:
    """``{{ line.amount|money:invoice.currency }}`` → ``฿1,234.00``."""
    return format_amount(int(amount), str(currency))


@register.filter
def rate(rate_bp: int) -> str:
    """``{{ line.tax_rate_bp|rate }}`` → ``7%``."""
    return format_rate(int(rate_bp))
