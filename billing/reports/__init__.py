"""Billing's report selectors: MRR and its movements, churn, ARPU, LTV, cohorts, revenue
and arrears.  Definitions and their sources: ``docs/reports.md``.

Every amount is integer minor units excluding VAT (arrears excepted: a debt is what the
member owes, VAT included), rounded only by ``billing.money.divide_round``.
"""
