"""Dunning writes.  Import from the submodules: ``dunning.services.cases`` and so on.

- ``cases``: opening a case from a failed payment, and recording later failures;
- ``retries``: planning and executing retries within the card-network rules;
- ``ladder``: evaluating the overdue ladder and applying its actions through billing;
- ``messages``: planning, rendering and delivering messages, and their tracking;
- ``recovery``: closing cases when their invoices are paid, by any route;
- ``plans``: payment plans and late fees;
- ``staff``: the actions the front desk and managers take on a case;
- ``run``: ``run_dunning``, the hourly pass over due cases;
- ``portal``: the hosted update-card-and-pay page.
"""
