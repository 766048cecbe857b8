import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("gym")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# config is no app of its own (its AppConfig is the admin's): its tasks are named here.
app.autodiscover_tasks(["config"])

# Each task's changes are recorded in the audit trail as done by the scheduled job (the
# task's name), not by "system".  The context is opened before the task runs and closed
# after it, in the same thread (members.audit.as_job).
_job_contexts: dict[str, Any] = {}


@task_prerun.connect
def _audit_job_open(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    from members.audit import as_job  # the app registry is ready when a task runs

    context = as_job(getattr(task, "name", "") or "task")
    context.__enter__()
    _job_contexts[task_id or ""] = context


@task_postrun.connect
def _audit_job_close(task_id: str | None = None, **_: Any) -> None:
    context = _job_contexts.pop(task_id or "", None)
    if context is not None:
        context.__exit__(None, None, None)
