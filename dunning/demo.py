"""Demo dunning: every open case's ladder played day by day up to today.

Earlier seeders leave a declined renewal in the past (access control's overdue member);
dunning's run is replayed once a day since its first failure, at the time the run would
have looked at it, so the case's notices, retries, warning and suspension happened on
their days, and the timeline, the messages and the gate all tell the same story.
Messages are recorded, not delivered (``seed_demo`` keeps them in memory).  Replaying
again later catches up from where the last run left off; nothing happens twice.
"""

from __future__ import annotations

import datetime as dt

from config import clock
from members.demo import SeedContext
from members.models import GymProfile

from .models import ACTIVE_CASE_STATUSES, DunningCase, PaydayCalendar
from .services.messages import messages_deliver
from .services.run import dunning_run

RUN_LOCAL_TIME = dt.time(10, 30)


def seed(ctx: SeedContext) -> None:
    # The gym's payday calendar: the Thai default, for staff to adjust.
    if not PaydayCalendar.objects.exists():
        PaydayCalendar.objects.create(gym=GymProfile.objects.order_by("pk").first())
    today = clock.today()
    opened = (
        DunningCase.objects.filter(status__in=ACTIVE_CASE_STATUSES, opened_on__lt=today)
        .order_by("opened_on")
        .values_list("opened_on", flat=True)
        .first()
    )
    if opened is not None:
        now = clock.now()
        day = opened
        while day <= today:
            at = dt.datetime.combine(day, RUN_LOCAL_TIME, tzinfo=clock.gym_tz())
            with clock.travel_to(min(at, now)):
                dunning_run()
                # The day's messages go out that day, worker or not.
                messages_deliver()
            day += dt.timedelta(days=1)
    ctx.manifest["dunning_cases"] = [
        {
            "member": case.member.full_name,
            "member_number": case.member.member_number,
            "invoice": case.invoice.number,
            "stage": case.stage,
            "opened_on": case.opened_on.isoformat(),
        }
        for case in DunningCase.objects.filter(status__in=ACTIVE_CASE_STATUSES)
        .select_related("member", "invoice")
        .order_by("opened_at")
    ]
