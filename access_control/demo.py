"""Demo access control: a site with zones and devices, cards for the demo members, and
one credential in each interesting state, with the device keys in the manifest.

Device keys are derived from ``SECRET_KEY`` and the device name (``keys.demo_key``), so
reseeding reproduces them while the database keeps only their hashes.  That is for the
demo only: anyone who knows the secret key can compute them.  Reseeding restores the
demo devices' keys (and un-revokes them) so the manifest always works.

The state credentials belong to members made through billing's services, so each state
is real: a paid sign-up, a freeze, a renewal declined 11 days ago (dunning's demo then
plays its ladder up to today, which suspends access at day 10), a cancellation.  Billing
sells no packs through a service yet, so the used-up visit pack is written directly.
States are set up on the first seed and left alone after that.

After every app has seeded, ``seed_after`` plays this morning at the gym: members check
in and out through the demo turnstiles, so the live feed and "who is inside" have a day.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from tqdm import tqdm

from billing.models import (
    Invoice,
    InvoiceStatus,
    Membership,
    Pack,
    PackPurchase,
    Plan,
)
from billing.services import memberships as billing_memberships
from billing.services import payments as billing_payments
from billing.services.run import billing_run_batch
from config import clock
from members import services as member_services
from members.demo import DEMO_EMAIL_DOMAIN, SeedContext
from members.models import Language, Member, MemberStatus

from .keys import demo_key
from .models import (
    AccessEvent,
    AntiPassback,
    Credential,
    CredentialKind,
    CredentialStatus,
    Device,
    DeviceDirection,
    DeviceKind,
    EventSource,
    Location,
    Zone,
)
from .reasons import Reason
from .services.checks import access_check
from .services.credentials import credential_issue
from .services.devices import device_authenticate, device_create, device_install_demo_key

LOCATION = ("Sukhumvit", "Asia/Bangkok")
# code, name, capacity, anti-passback, minutes
ZONES = [
    ("gym-floor", "Gym floor", 150, AntiPassback.NONE, 5),
    ("studio", "Studio", 30, AntiPassback.TIMED, 1),
    ("pool", "Pool", 40, AntiPassback.STRICT, 5),
]
KIOSK = ("front-desk-kiosk", "gym-floor")
STATE_EMAIL_DOMAIN = f"access.{DEMO_EMAIL_DOMAIN}"
UNKNOWN_CREDENTIAL = "FFFF0000DEAD"
# RFID numbers of ordinary demo members: a fixed block, one per member number.
MEMBER_CARD_BASE = 0xD0000000
BATCH = 5000


# The device the manifest's expectations are for: an entry to the gym floor.  (At a
# ``*-out`` device every listed card leaves; at ``studio-in`` most plans do not enter.)
STATE_DEVICE = "gym-floor-in"


@dataclass(frozen=True)
class DemoState:
    state: str
    card: str
    expect: str
    note: str = ""
    expect_in_windows: str = ""  # the decision inside the plan's time windows, if another


STATES = [
    DemoState("active", "A0000001", Reason.GRANTED),
    DemoState(
        "outside_off_peak_hours",
        "A0000002",
        Reason.OUTSIDE_HOURS,
        "Off-peak plan: gym floor Mon–Fri 10:00–16:00, Sat–Sun 08:00–20:00 (Bangkok). "
        "Outside those hours the gate says outside_hours; inside them it admits.",
        expect_in_windows=Reason.GRANTED,
    ),
    DemoState("frozen", "A0000003", Reason.MEMBERSHIP_FROZEN),
    DemoState("suspended_overdue", "A0000004", Reason.MEMBERSHIP_SUSPENDED),
    DemoState("cancelled", "A0000005", Reason.MEMBERSHIP_CANCELLED),
    DemoState("pack_exhausted", "A0000006", Reason.PACK_EXHAUSTED, "No membership; 0 visits."),
    DemoState("unknown", UNKNOWN_CREDENTIAL, Reason.UNKNOWN_CREDENTIAL, "Exists nowhere."),
]


def seed_places() -> dict[str, Zone]:
    location, _ = Location.objects.get_or_create(
        name=LOCATION[0], defaults={"time_zone": LOCATION[1]}
    )
    zones = {}
    for code, name, capacity, passback, minutes in ZONES:
        zone, _ = Zone.objects.get_or_create(
            code=code,
            defaults={
                "location": location,
                "name": name,
                "capacity": capacity,
                "anti_passback": passback,
                "anti_passback_minutes": minutes,
            },
        )
        zones[code] = zone
    return zones


def _device_plan(zones: dict[str, Zone]) -> list[tuple[str, Zone, str, str]]:
    plan: list[tuple[str, Zone, str, str]] = []
    for code, zone in zones.items():
        plan.append((f"{code}-in", zone, DeviceKind.TURNSTILE, DeviceDirection.IN))
        plan.append((f"{code}-out", zone, DeviceKind.TURNSTILE, DeviceDirection.OUT))
    plan.append((KIOSK[0], zones[KIOSK[1]], DeviceKind.KIOSK, DeviceDirection.IN))
    return plan


def seed_devices(ctx: SeedContext, zones: dict[str, Zone]) -> None:
    listed = []
    for name, zone, kind, direction in _device_plan(zones):
        device = Device.objects.filter(name=name).first()
        if device is None:
            device, _ = device_create(zone=zone, name=name, kind=kind, direction=direction)
        key = demo_key(name)
        device_install_demo_key(device, key)
        listed.append(
            {
                "name": name,
                "zone": device.zone.code,
                "direction": device.direction,
                "kind": device.kind,
                "key": key.plain,
            }
        )
    ctx.manifest["devices"] = listed


def seed_member_cards(ctx: SeedContext) -> None:
    """An RFID card for every demo member with a membership who has no credential yet."""
    members = list(
        Member.objects.filter(
            email__endswith=f"@{DEMO_EMAIL_DOMAIN}",
            memberships__isnull=False,
            credentials__isnull=True,
        )
        .distinct()
        .values_list("pk", "member_number")
    )
    if not members:
        return
    issued_at = clock.now()
    bar = tqdm(total=len(members), desc="cards", unit="card", disable=not ctx.progress)
    for start in range(0, len(members), BATCH):
        chunk = members[start : start + BATCH]
        Credential.objects.bulk_create(
            [
                Credential(
                    member_id=pk,
                    kind=CredentialKind.RFID,
                    value=f"{MEMBER_CARD_BASE + number:08X}",
                    issued_at=issued_at,
                    label="Demo card",
                )
                for pk, number in chunk
            ],
            ignore_conflicts=True,
        )
        bar.update(len(chunk))
    bar.close()


# --- One credential per state ---------------------------------------------------------


def _state_member(state: DemoState) -> tuple[Member, bool]:
    email = f"{state.state.replace('_', '.')}@{STATE_EMAIL_DOMAIN}"
    existing = Member.objects.filter(email=email).first()
    if existing is not None:
        return existing, False
    member = member_services.member_create(
        first_name="Demo",
        last_name=state.state.replace("_", " ").title(),
        email=email,
        phone=f"+668{STATES.index(state) + 1:08d}",
        date_of_birth=dt.date(1990, 1, 1),
        language=Language.ENGLISH,
    )
    return member, True


def _paid_membership(member: Member, plan_code: str) -> Membership:
    """A sign-up whose first invoice is charged to a working sandbox card now."""
    billing_payments.payment_method_attach(
        member, gateway="sandbox", token=f"tok_ok.access-demo-{member.pk}"
    )
    membership = billing_memberships.membership_sign_up(
        member, Plan.objects.get(code=plan_code), charge=False
    )
    for invoice in Invoice.objects.filter(membership=membership, status=InvoiceStatus.OPEN):
        billing_payments.invoice_charge(invoice)
    # Settling runs after commit in production; do it now so the seed works anywhere.
    billing_memberships.memberships_settle([membership.pk])
    membership.refresh_from_db()
    return membership


# The overdue member's story: a monthly membership paid 41 days ago; its renewal, 11 days
# ago, was declined (insufficient funds).  Dunning's demo then plays its ladder day by day
# up to today, so the case's notices, retries and the suspension at day 10 all happened.
OVERDUE_SIGNED_UP_DAYS_AGO = 41
STORIES = {"suspended_overdue"}
OVERDUE_RENEWAL_DAYS_AGO = 11


def _declined_renewal(member: Member) -> None:
    today = clock.today()
    signed_up = today - dt.timedelta(days=OVERDUE_SIGNED_UP_DAYS_AGO)
    with clock.travel_to(clock.local_midnight(signed_up) + dt.timedelta(hours=9)):
        membership = _paid_membership(member, "monthly")
    renewal = membership.next_billing_date
    assert renewal is not None
    billing_payments.payment_method_attach(
        member,
        gateway="sandbox",
        token=f"tok_decline_insufficient_funds.access-demo-{member.pk}",
    )
    with clock.travel_to(clock.local_midnight(renewal) + dt.timedelta(hours=10)):
        billing_run_batch([membership.pk], renewal)


def _set_up_state(state: DemoState, member: Member) -> None:
    today = clock.today()
    if state.state == "active":
        _paid_membership(member, "monthly")
    elif state.state == "outside_off_peak_hours":
        _paid_membership(member, "off-peak")
    elif state.state == "frozen":
        membership = _paid_membership(member, "monthly")
        billing_memberships.membership_freeze(
            membership, starts_on=today, ends_on=today + dt.timedelta(days=90), reason="Demo"
        )
    elif state.state == "suspended_overdue":
        _declined_renewal(member)
    elif state.state == "cancelled":
        membership = _paid_membership(member, "monthly")
        billing_memberships.membership_cancel(
            membership, at_period_end=False, waive_fees=True, reason="Demo"
        )
    elif state.state == "pack_exhausted":
        PackPurchase.objects.create(
            member=member,
            pack=Pack.objects.get(code="visits-10"),
            remaining=0,
            valid_from=today - dt.timedelta(days=30),
            expires_on=today + dt.timedelta(days=60),
        )


def seed_state_credentials(ctx: SeedContext) -> None:
    listed: list[dict[str, Any]] = []
    for state in STATES:
        entry: dict[str, Any] = {
            "state": state.state,
            "credential": state.card,
            "kind": CredentialKind.RFID.value,
            "device": STATE_DEVICE,
            "expect": str(state.expect),
        }
        if state.expect_in_windows:
            entry["expect_in_windows"] = str(state.expect_in_windows)
        if state.note:
            entry["note"] = state.note
        if state.state in STORIES:
            # A story over several days: each day's work commits on that day's clock, so
            # what billing and dunning do after it commits happens on that day too.
            member, created = _state_member(state)
            if created:
                _set_up_state(state, member)
        if state.state != "unknown":
            with transaction.atomic():
                member, created = _state_member(state)
                if created:
                    _set_up_state(state, member)
                if not Credential.objects.filter(
                    member=member, value=state.card, status=CredentialStatus.ACTIVE
                ).exists():
                    credential_issue(
                        member, kind=CredentialKind.RFID, value=state.card, label="Demo state"
                    )
            entry["member"] = member.full_name
            entry["member_number"] = member.member_number
        listed.append(entry)
    ctx.manifest["credentials"] = listed


def seed(ctx: SeedContext) -> None:
    zones = seed_places()
    seed_devices(ctx, zones)
    seed_member_cards(ctx)
    seed_state_credentials(ctx)


# --- A morning at the gym ---------------------------------------------------------------

MORNING_VISITORS = 36
MORNING_OPENS = dt.time(6, 0)


def _morning_window(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """From opening (06:00) to a few minutes ago; a seed run before opening plays the
    last three hours instead."""
    local = now.astimezone(clock.gym_tz())
    opens = dt.datetime.combine(local.date(), MORNING_OPENS, tzinfo=clock.gym_tz())
    end = now - dt.timedelta(minutes=3)
    start = opens if end - opens >= dt.timedelta(hours=1) else end - dt.timedelta(hours=3)
    return start, end


def _morning_plan(start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, str, str]]:
    """``(when, device, card)`` for the morning: members arrive through the gym floor's
    turnstile, some go on to the studio or the pool, most leave after an hour or so, and
    a few cards the gate refuses."""
    rng = random.Random(20260101)
    cards = list(
        Credential.objects.filter(
            label="Demo card",
            status=CredentialStatus.ACTIVE,
            member__status=MemberStatus.ACTIVE,
        )
        .order_by("pk")
        .values_list("value", flat=True)[: MORNING_VISITORS * 3]
    )
    visitors = rng.sample(cards, min(MORNING_VISITORS, len(cards)))
    span = (end - start).total_seconds()
    plan: list[tuple[dt.datetime, str, str]] = []
    for index, card in enumerate(sorted(visitors)):
        arrive = start + dt.timedelta(seconds=span * (index + rng.random()) / len(visitors))
        plan.append((arrive, "gym-floor-in", card))
        leave = arrive + dt.timedelta(minutes=rng.randint(55, 100))
        if rng.random() < 0.25:
            plan.append((arrive + dt.timedelta(minutes=5), "studio-in", card))
        if leave < end:
            plan.append((leave, "gym-floor-out", card))
    for minutes, card in ((45, "A0000004"), (30, "A0000003"), (12, UNKNOWN_CREDENTIAL)):
        plan.append((end - dt.timedelta(minutes=minutes), STATE_DEVICE, card))
    plan.append((end - dt.timedelta(minutes=8), STATE_DEVICE, "A0000001"))
    return sorted(plan)


def seed_morning(ctx: SeedContext) -> None:
    """Today's check-ins so far, through the gate's own service (so the feed, the log and
    who is inside all agree).  Only once a day: a reseed the same day adds nothing."""
    now = clock.now()
    start, end = _morning_window(now)
    if AccessEvent.objects.filter(occurred_at__gte=start, source=EventSource.ONLINE).exists():
        return
    names = Device.objects.values_list("name", flat=True)
    devices = {name: device_authenticate(demo_key(name).plain) for name in names}
    passes = 0
    for when, device_name, card in _morning_plan(start, end):
        device = devices.get(device_name)
        if device is None:
            continue
        with clock.travel_to(when):
            access_check(device, credential=card)
        passes += 1
    ctx.manifest["morning_check_ins"] = passes


def seed_after(ctx: SeedContext) -> None:
    """After every app has seeded (dunning has played its ladder): the morning."""
    seed_morning(ctx)
