"""Demo data for the members app: the gym, staff logins, members, households, agreements.

``seed_demo`` calls ``seed(ctx)`` of every installed app that has a ``demo`` module, in
INSTALLED_APPS order, so later apps build on what earlier ones made.  Each seeder is
idempotent: it tops up to the requested size and never duplicates.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from tqdm import tqdm

from config import clock

from . import leads, roles, services
from .models import (
    AgreementKind,
    AgreementSignature,
    AgreementVersion,
    GymProfile,
    Language,
    Lead,
    LeadSource,
    LeadStatus,
    Member,
)

DEMO_EMAIL_DOMAIN = "demo.example.com"
DEMO_PASSWORD = "gym-demo-2026"
BATCH = 5000


@dataclass
class SeedContext:
    members: int
    progress: bool = True
    manifest: dict[str, Any] = field(default_factory=dict)
    stdout: Any = None

    def say(self, text: str) -> None:
        if self.stdout is not None:
            self.stdout.write(text)


# (given name, romanised) pairs so Thai members still get ASCII email addresses.
THAI_FIRST = [
    ("สมชาย", "somchai"),
    ("สมหญิง", "somying"),
    ("ณัฐพล", "nattapon"),
    ("พิมพ์ชนก", "pimchanok"),
    ("ธนากร", "thanakorn"),
    ("กมลชนก", "kamonchanok"),
    ("วีรยุทธ", "weerayut"),
    ("ปิยะนุช", "piyanuch"),
    ("อนุชา", "anucha"),
    ("สุภาวดี", "supawadee"),
    ("ชัยวัฒน์", "chaiwat"),
    ("รัตนา", "rattana"),
    ("กิตติพงษ์", "kittipong"),
    ("ศิริพร", "siriporn"),
    ("ภานุวัฒน์", "panuwat"),
    ("จิราพร", "jiraporn"),
    ("ธีรวัฒน์", "teerawat"),
    ("นภัสสร", "napatsorn"),
    ("เอกชัย", "ekkachai"),
    ("มณีรัตน์", "maneerat"),
]
THAI_LAST = [
    ("สุขสวัสดิ์", "suksawat"),
    ("ศรีสมบูรณ์", "srisomboon"),
    ("วงศ์ใหญ่", "wongyai"),
    ("ทองดี", "thongdee"),
    ("แก้วมณี", "kaewmanee"),
    ("บุญมา", "boonma"),
    ("จันทร์เพ็ญ", "chanpen"),
    ("รุ่งเรือง", "rungruang"),
    ("พงษ์ศักดิ์", "pongsak"),
    ("ประเสริฐ", "prasert"),
    ("ชัยมงคล", "chaimongkol"),
    ("สายทอง", "saithong"),
    ("อินทร์แก้ว", "inkaew"),
    ("มหาวงศ์", "mahawong"),
]
THAI_NICK = ["บอล", "ปุ๊ก", "นิว", "ฟ้า", "เจ", "มิ้นท์", "ต้น", "แอน", "บีม", "ป๊อป", "เมย์", "โอ๊ต"]
EN_FIRST = [
    "James",
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Oliver",
    "Sophia",
    "Lucas",
    "Mia",
    "Ethan",
    "Isabella",
    "Daniel",
    "Charlotte",
    "Henry",
    "Amelia",
    "Jack",
    "Harper",
    "Samuel",
    "Grace",
]
EN_LAST = [
    "Smith",
    "Johnson",
    "Brown",
    "Taylor",
    "Wilson",
    "Davies",
    "Evans",
    "Thomas",
    "Roberts",
    "Walker",
    "Wright",
    "Thompson",
    "White",
    "Hughes",
    "Edwards",
    "Green",
    "Hall",
    "Wood",
]
DISTRICTS = [
    ("Sukhumvit Rd, Khlong Toei", "Khlong Toei", "Bangkok", "10110"),
    ("Phahonyothin Rd, Chatuchak", "Chatuchak", "Bangkok", "10900"),
    ("Rama IX Rd, Huai Khwang", "Huai Khwang", "Bangkok", "10310"),
    ("Silom Rd, Bang Rak", "Bang Rak", "Bangkok", "10500"),
    ("Charoen Krung Rd, Sathon", "Sathon", "Bangkok", "10120"),
    ("Ratchadaphisek Rd, Din Daeng", "Din Daeng", "Bangkok", "10400"),
]
ALERTS = [
    "See staff: locker key not returned",
    "Prefers a female trainer",
    "Medical: asthma — inhaler in locker 12",
    "See staff before entry: ID check pending",
]
STAFF = [
    ("frontdesk", roles.FRONT_DESK, "Ploy", "Front desk"),
    ("manager", roles.MANAGER, "Krit", "Manager"),
    ("owner", roles.OWNER, "Dao", "Owner"),
]


def demo_email(index: int, local: str, domain: str = DEMO_EMAIL_DOMAIN) -> str:
    return f"{local}.{index}@{domain}"


def _demo_member(index: int, number: int, today: dt.date) -> Member:
    """The same index always gives the same member, so reseeding is stable."""
    rng = random.Random(index)
    thai = rng.random() < 0.7
    if thai:
        first, first_latin = rng.choice(THAI_FIRST)
        last, last_latin = rng.choice(THAI_LAST)
        nickname = rng.choice(THAI_NICK)
        local = f"{first_latin}.{last_latin}"
    else:
        first, last = rng.choice(EN_FIRST), rng.choice(EN_LAST)
        nickname = ""
        local = f"{first}.{last}".lower()
    street, city, province, postcode = rng.choice(DISTRICTS)
    born = today - dt.timedelta(days=rng.randint(21 * 365, 68 * 365))
    return Member(
        member_number=number,
        first_name=first,
        last_name=last,
        nickname=nickname,
        email=demo_email(index, local),
        phone=f"+668{rng.randint(10000000, 99999999)}",
        date_of_birth=born,
        address_line1=f"{rng.randint(1, 999)}/{rng.randint(1, 99)} {street}",
        city=city,
        province=province,
        postal_code=postcode,
        country="TH",
        emergency_contact_name=rng.choice(EN_FIRST) if not thai else rng.choice(THAI_FIRST)[0],
        emergency_contact_phone=f"+669{rng.randint(10000000, 99999999)}",
        emergency_contact_relationship=rng.choice(["spouse", "parent", "sibling", "friend"]),
        language=Language.THAI if thai and rng.random() < 0.85 else Language.ENGLISH,
        marketing_email=rng.random() < 0.4,
        lead_source=rng.choice(LeadSource.values),
    )


def seed_gym() -> None:
    GymProfile.objects.get_or_create(
        pk=1,
        defaults={
            "name": "Demo Gym Sukhumvit",
            "legal_name": "Demo Gym Co., Ltd.",
            "tax_id": "0105500000000",
            "address": "123 Sukhumvit Rd, Khlong Toei, Bangkok 10110",
            "phone": "+66 2 000 0000",
            "email": "hello@demo-gym.example.com",
            "website": "https://demo-gym.example.com",
            "opening_hours": "Mon–Fri 06:00–22:00, Sat–Sun 08:00–20:00",
        },
    )


def seed_staff(ctx: SeedContext) -> None:
    user_model = get_user_model()
    logins = []
    for username, role, first_name, last_name in STAFF:
        user, created = user_model.objects.get_or_create(
            username=username,
            defaults={"first_name": first_name, "last_name": last_name, "is_staff": True},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        user.groups.set([Group.objects.get(name=role)])
        logins.append({"role": role, "username": username, "password": DEMO_PASSWORD})
    ctx.manifest["staff"] = logins


def seed_agreements() -> list[AgreementVersion]:
    versions = []
    for kind, title, en, th in [
        (
            AgreementKind.MEMBERSHIP_TERMS,
            "Membership terms",
            "Membership renews automatically until cancelled with 30 days' notice.",
            "สมาชิกภาพต่ออายุอัตโนมัติจนกว่าจะแจ้งยกเลิกล่วงหน้า 30 วัน",
        ),
        (
            AgreementKind.WAIVER,
            "Liability waiver",
            "I exercise at my own risk and will follow staff instructions.",
            "ข้าพเจ้าออกกำลังกายด้วยความเสี่ยงของตนเองและจะปฏิบัติตามคำแนะนำของเจ้าหน้าที่",
        ),
    ]:
        version, _ = AgreementVersion.objects.get_or_create(
            kind=kind,
            version="2026.1",
            defaults={
                "title": title,
                "body_en": en,
                "body_th": th,
                "effective_from": dt.date(2026, 1, 1),
                "is_current": True,
            },
        )
        versions.append(version)
    return versions


def seed_members(ctx: SeedContext) -> None:
    existing = Member.objects.filter(email__endswith=f"@{DEMO_EMAIL_DOMAIN}").count()
    missing = ctx.members - existing
    if missing <= 0:
        ctx.say(f"Members: {existing} demo members already there.")
        return
    today = clock.today()
    bar = tqdm(total=missing, desc="members", unit="member", disable=not ctx.progress)
    versions = seed_agreements()
    signed_at = clock.now()
    for start in range(existing, ctx.members, BATCH):
        stop = min(start + BATCH, ctx.members)
        with transaction.atomic():
            numbers = services.sequence_allocate(
                services.MEMBER_NUMBER_SEQUENCE, stop - start, start=services.MEMBER_NUMBER_START
            )
            batch = [
                _demo_member(index, number, today)
                for index, number in zip(range(start, stop), numbers, strict=True)
            ]
            created = Member.objects.bulk_create(batch, batch_size=BATCH)
            AgreementSignature.objects.bulk_create(
                [
                    AgreementSignature(
                        member=member,
                        version=version,
                        signer_name=member.full_name,
                        signed_at=signed_at,
                        ip_address="203.0.113.10",
                        user_agent="Front desk tablet",
                    )
                    for member in created
                    for version in versions
                ],
                batch_size=BATCH,
            )
        bar.update(stop - start)
    bar.close()


def _years_before(day: dt.date, years: int) -> dt.date:
    """The same date ``years`` earlier: 28 February for a 29 February that year lacks."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def seed_households_and_alerts(ctx: SeedContext) -> None:
    """A few families with a minor each, and some staff alerts, made through the services."""
    if Member.objects.filter(guardian__isnull=False, email__endswith=DEMO_EMAIL_DOMAIN).exists():
        return
    today = clock.today()
    parents = list(
        Member.objects.filter(
            email__endswith=f"@{DEMO_EMAIL_DOMAIN}", household__isnull=True
        ).order_by("member_number")[: min(10, max(ctx.members // 20, 1))]
    )
    for i, parent in enumerate(parents):
        with transaction.atomic():
            household = services.household_create(payer=parent)
            services.member_create(
                first_name=THAI_FIRST[i % len(THAI_FIRST)][0],
                last_name=parent.last_name,
                email=demo_email(i, f"junior.{parent.member_number}", f"kids.{DEMO_EMAIL_DOMAIN}"),
                # The first child's birthday is today ("Today at the gym" shows it).
                date_of_birth=_years_before(today, 12 + i % 5) - dt.timedelta(days=23 * i),
                language=parent.language,
                guardian=parent,
                household=household,
            )
    for i, member in enumerate(
        Member.objects.filter(email__endswith=f"@{DEMO_EMAIL_DOMAIN}").order_by("member_number")[
            20 : 20 + len(ALERTS)
        ]
    ):
        services.note_add(member=member, body=ALERTS[i], is_alert=True)


# People who started to join online and stopped: (given, family, email, status, notes).
LEADS = [
    ("มานี", "ใจดี", "manee", LeadStatus.NEW, ""),
    ("Oliver", "Grant", "oliver", LeadStatus.CONTACTED, "Called: wants to see the pool first."),
    ("ปิติ", "รักเรียน", "piti", LeadStatus.TRIAL, "Free trial booked for Saturday."),
    ("Sara", "Lind", "sara", LeadStatus.LOST, "Moved to Chiang Mai."),
]


def seed_leads(ctx: SeedContext) -> None:
    """A few leads from the online join, worked by the desk to different stages."""
    if Lead.objects.filter(email__endswith=f"@leads.{DEMO_EMAIL_DOMAIN}").exists():
        return
    for i, (first, last, local, status, notes) in enumerate(LEADS):
        lead = leads.lead_record(
            marketing_email=i % 2 == 0,
            stopped_at="payment" if i % 2 else "details",
            first_name=first,
            last_name=last,
            email=demo_email(i, local, f"leads.{DEMO_EMAIL_DOMAIN}"),
            language=Language.THAI if i % 2 == 0 else Language.ENGLISH,
            interested_in="Monthly",
        )
        if status != LeadStatus.NEW or notes:
            leads.lead_update(lead, status=status, notes=notes)


def seed_portal(ctx: SeedContext) -> None:
    """Portal logins for the demo: the first family's payer (who sees their child) and
    one more member, with the demo password; that member has asked for a copy of their
    data (the managers' admin shows the request)."""
    payer = (
        Member.objects.filter(paying_household__isnull=False, email__endswith=DEMO_EMAIL_DOMAIN)
        .order_by("member_number")
        .first()
    )
    other = (
        Member.objects.filter(email__endswith=f"@{DEMO_EMAIL_DOMAIN}", household__isnull=True)
        .order_by("member_number")
        .first()
    )
    logins = []
    for member in (m for m in (payer, other) if m is not None):
        user = services.member_login_ensure(member, email_verified=True)
        if not user.has_usable_password():
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        logins.append({"email": member.email, "password": DEMO_PASSWORD, "url": "/portal/"})
    if other is not None:
        services.privacy_request_make(other, kind="export", note="For my records, please.")
    ctx.manifest["portal"] = logins


def seed(ctx: SeedContext) -> None:
    seed_gym()
    seed_staff(ctx)
    seed_members(ctx)
    seed_households_and_alerts(ctx)
    seed_leads(ctx)
    seed_portal(ctx)
