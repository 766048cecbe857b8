"""The project's admin site: the front desk's whole day.

- ``site``: ``GymAdminSite``, the default admin site (``config.apps.GymAdminConfig``),
  with translated titles and every registered screen made readable;
- ``readable``: money, rates and dates shown and typed as people read them, on every
  screen, found from the models' fields.
"""
