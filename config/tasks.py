"""Beat tasks of the project's shared pages (the admin's owner dashboard)."""

from __future__ import annotations

from celery import shared_task


@shared_task
def reports_warm() -> dict[str, int]:
    """Recompute the owner's dashboard as it opens (every location), so no owner waits for
    a cold figure (``config.admin.report_figures.warm_dashboard``)."""
    from config.admin.report_figures import warm_dashboard  # the admin needs the app registry

    return {"filters": len(warm_dashboard())}
