"""The reader simulator against the real app: sync, lose the server, decide, upload once.

The app runs under gunicorn on loopback, in its own process, against the test database;
the tests commit for real (``transaction=True``) so that process sees their data.  Both
run on the real clock: the server cannot share the suite's frozen one.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from access_control.models import AccessEvent, Credential, DeviceKind
from access_control.services import credential_issue, credential_revoke, device_create
from billing.models import MembershipStatus
from config import clock as gym_clock
from tests.billing.factories import PlanFactory, signed_up
from tests.factories import MemberFactory

from .test_rules import visit_pack

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def simulator(url: str, key: str, state_file: Path, *args: str) -> list[str]:
    """The simulator's command line."""
    common = ["--url", url, "--key", key, "--state-file", str(state_file)]
    return [sys.executable, "scripts/turnstile_sim.py", *common, *args]


def _load_simulator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "turnstile_sim", ROOT / "scripts/turnstile_sim.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["turnstile_sim"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


sim = _load_simulator()


@pytest.fixture(autouse=True)
def clock() -> Iterator[None]:
    """Overrides the package's frozen clock: the server process reads the real one."""
    yield None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class AppServer:
    """The real app (gunicorn, one worker) on a free loopback port, started and stopped."""

    def __init__(self, log: Path) -> None:
        db = connection.settings_dict
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings_test",
            "DATABASE_URL": f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/"
            f"{db['NAME']}",
            "REDIS_URL": settings.REDIS_URL,
            "CACHE_KEY_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", "gym-test"),
        }
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> str:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "config.wsgi",
                    "-w",
                    "1",
                    "-b",
                    f"127.0.0.1:{port}",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if sim.ping(sim.Api(self.url, "-", timeout=0.5)):
                return self.url
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            time.sleep(0.1)
        raise AssertionError(f"the server did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)
        self.process = None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[AppServer]:
    app = AppServer(tmp_path / "server.log")
    yield app
    app.stop()


@pytest.fixture
def gate(location_zone) -> tuple[Any, str]:
    device, key = device_create(
        zone=location_zone, name="gym-floor-in", kind=DeviceKind.TURNSTILE, direction="in"
    )
    return device, key


@pytest.fixture
def location_zone(make_zone):
    return make_zone("gym-floor")


def active_member_with_card(value: str) -> Any:
    membership = signed_up(plan=PlanFactory())
    assert membership.status == MembershipStatus.ACTIVE
    credential_issue(membership.member, kind="rfid", value=value, input_format="hex")
    return membership.member


def pack_member_with_card(value: str, visits: int) -> tuple[Any, Any]:
    member = MemberFactory()
    today = gym_clock.today()
    purchase = visit_pack(
        member,
        remaining=visits,
        valid_from=today - dt.timedelta(days=1),
        expires_on=today + dt.timedelta(days=30),
    )
    credential_issue(member, kind="rfid", value=value, input_format="hex")
    return member, purchase


def test_offline_decisions_come_from_the_allowlist_and_upload_exactly_once(server, gate):
    device, key = gate
    active_member_with_card("04A1B2C3")
    leaver = active_member_with_card("04D4E5F6")
    pack_holder, purchase = pack_member_with_card("04A1B2C5", visits=3)
    state = sim.empty_state()

    # 1. Online: the simulator syncs the full list, then a delta with a removal.
    api = sim.Api(server.start(), key, timeout=1.0)
    first = sim.sync(api, state)
    assert (first.full, first.total) == (True, 3)
    credential_revoke(Credential.objects.get(value="04D4E5F6"))
    delta = sim.sync(api, state)
    assert (delta.full, delta.removed, delta.total) == (False, 1, 2)
    assert "rfid:04D4E5F6" not in state["allowlist"]
    online = sim.check(api, state, "04A1B2C3")
    assert (online.source, online.granted, online.reason) == ("online", True, "granted")
    assert state["buffer"] == []

    # 2. The server goes away.
    server.stop()
    assert not sim.ping(api)

    # 3. Decisions come from the allowlist, and are buffered.
    decisions = {
        "active": sim.check(api, state, "04:a1:b2:c3"),
        "revoked": sim.check(api, state, "04D4E5F6"),
        "unknown": sim.check(api, state, "04FFFFFF"),
        "pack": sim.check(api, state, "04A1B2C5"),
        "pack again": sim.check(api, state, "04A1B2C5"),
    }
    assert {name: (d.source, d.granted, d.reason) for name, d in decisions.items()} == {
        "active": ("offline", True, "granted"),
        "revoked": ("offline", False, "unknown_credential"),
        "unknown": ("offline", False, "unknown_credential"),
        "pack": ("offline", True, "granted_pack"),
        "pack again": ("offline", True, "granted_pack"),
    }
    assert decisions["active"].member["member_number"] > 0
    assert len(state["buffer"]) == 5
    assert len(state["pack_visits"]) == 1, "one visit a day, however many entries"
    with pytest.raises(sim.SimulatorError, match="unreachable"):
        sim.flush(api, state)
    assert len(state["buffer"]) == 5
    buffered = list(state["buffer"])
    ids = [event["device_event_id"] for event in buffered]
    assert AccessEvent.objects.filter(device_event_id__in=ids).count() == 0

    # 4. The server returns: the buffer uploads once, however often it is sent.
    api.url = server.start()
    uploaded = sim.flush(api, state)
    assert (uploaded.created, uploaded.duplicate, uploaded.left) == (5, 0, 0)
    assert vars(sim.flush(api, state)) == {"created": 0, "duplicate": 0, "rejected": 0, "left": 0}
    lost_answer = {**state, "buffer": buffered}  # as if the first answer never arrived
    assert sim.flush(api, lost_answer).duplicate == 5
    stored = AccessEvent.objects.filter(device=device, device_event_id__in=ids)
    assert sorted(str(i) for i in stored.values_list("device_event_id", flat=True)) == sorted(ids)
    assert set(stored.values_list("source", flat=True)) == {"offline"}
    assert stored.get(device_event_id=decisions["revoked"].device_event_id).member == leaver
    purchase.refresh_from_db()
    assert purchase.remaining == 2, "the pack lost one visit, once"
    assert stored.filter(member=pack_holder).exclude(pack_day=None).count() == 1

    # The next sync carries the server's count; the local visit record is done with.
    sim.sync(api, state)
    assert state["allowlist"]["rfid:04A1B2C5"]["access"][0]["remaining"] == 2
    assert state["pack_visits"] == []


def test_a_pass_granted_online_counts_for_anti_passback_once_offline(server, gate, location_zone):
    location_zone.anti_passback, location_zone.anti_passback_minutes = "timed", 5
    location_zone.save()
    _device, key = gate
    active_member_with_card("04A1B2C3")
    state = sim.empty_state()
    api = sim.Api(server.start(), key, timeout=1.0)
    sim.sync(api, state)
    online = sim.check(api, state, "04A1B2C3")
    assert (online.source, online.granted) == ("online", True)

    server.stop()  # the card is passed back at once, while the server is away
    passed_back = sim.check(api, state, "04A1B2C3")
    assert (passed_back.source, passed_back.granted, passed_back.reason) == (
        "offline",
        False,
        "anti_passback",
    )


@pytest.mark.django_db  # no server process here: nothing needs committing
def test_a_server_that_does_not_answer_in_time_is_treated_as_offline():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts connections, never answers
    state = sim.empty_state()
    state["zone"] = {"code": "gym-floor", "time_zone": "Asia/Bangkok", "anti_passback": "none"}
    state["allowlist"]["rfid:04A1B2C3"] = {
        "credential": "04A1B2C3",
        "kind": "rfid",
        "member_id": 1,
        "member_number": 1001,
        "name": "Somchai",
        "access": [{"source": "membership", "windows": [], "valid_from": "2000-01-01"}],
    }
    api = sim.Api(f"http://127.0.0.1:{silent.getsockname()[1]}", "any.key", timeout=0.3)
    started = time.monotonic()
    try:
        decision = sim.check(api, state, "04A1B2C3")
    finally:
        silent.close()
    assert time.monotonic() - started < 2
    assert (decision.source, decision.granted) == ("offline", True)
    assert state["buffer"][0]["device_event_id"] == decision.device_event_id


@pytest.mark.django_db
def test_offline_rules_time_windows_validity_and_anti_passback():
    state = sim.empty_state()
    state["zone"] = {
        "code": "studio",
        "time_zone": "Asia/Bangkok",
        "anti_passback": "timed",
        "anti_passback_minutes": 5,
    }
    state["allowlist"] = {
        "rfid:0A0B0C": {
            "credential": "0A0B0C",
            "kind": "rfid",
            "member_id": 7,
            "member_number": 1007,
            "name": "Off-peak",
            "access": [
                {
                    "source": "membership",
                    # Weekdays 10:00-16:00, and Saturday night into Sunday.
                    "windows": [
                        {"weekdays": "12345", "start": "10:00", "end": "16:00"},
                        {"weekdays": "6", "start": "22:00", "end": "02:00"},
                    ],
                    "valid_from": "2027-02-01",
                    "valid_until": "2027-02-28",
                }
            ],
        }
    }
    bangkok = dt.timezone(dt.timedelta(hours=7))

    def at(day: int, hour: int, minute: int = 0, credential: str = "0A0B0C") -> Any:
        moment = dt.datetime(2027, 2, day, hour, minute, tzinfo=bangkok)
        return sim.decide_offline(state, credential, "in", moment)

    assert at(3, 10).reason == "granted"  # Wednesday 10:00 Bangkok (03:00 UTC)
    assert at(3, 9, 59).reason == "outside_hours"
    assert at(7, 1, 30).reason == "granted"  # Sunday 01:30: Saturday's night window
    assert at(7, 2, 30).reason == "outside_hours"
    assert (
        sim.decide_offline(state, "0A0B0C", "in", dt.datetime(2027, 3, 1, 3, tzinfo=dt.UTC)).reason
        == "membership_cancelled"
    )
    assert at(3, 10, credential="658188").reason == "granted", "Wiegand-26 decimal of 0A0B0C"
    state["passes"]["7"] = {
        "direction": "in",
        "at": dt.datetime(2027, 2, 3, 10, tzinfo=bangkok).isoformat(),
    }
    assert at(3, 10, 4).reason == "anti_passback"
    assert at(3, 10, 6).reason == "granted"


def test_offline_an_exit_lets_everyone_out_and_reads_only_its_own_way(server, location_zone):
    _device, key = device_create(
        zone=location_zone, name="gym-floor-out", kind=DeviceKind.TURNSTILE, direction="out"
    )
    active_member_with_card("04A1B2D1")
    without_access = MemberFactory()  # e.g. frozen or suspended while inside: not listed
    credential_issue(without_access, kind="rfid", value="04A1B2D2", input_format="hex")
    state = sim.empty_state()
    api = sim.Api(server.start(), key, timeout=1.0)
    assert sim.sync(api, state).total == 1
    assert state["device"] == {"name": "gym-floor-out", "kind": "turnstile", "direction": "out"}
    online = sim.check(api, state, "04A1B2D2")  # no direction asked: the device's own
    assert (online.source, online.granted) == ("online", True)
    server.stop()
    listed, unlisted, unknown = (
        sim.check(api, state, card) for card in ("04A1B2D1", "04A1B2D2", "04FFFFFF")
    )
    assert [(d.source, d.granted, d.reason) for d in (listed, unlisted, unknown)] == [
        ("offline", True, "granted")
    ] * 3
    assert {event["direction"] for event in state["buffer"]} == {"out"}
    with pytest.raises(sim.SimulatorError, match="only reads the direction 'out'"):
        sim.check(api, state, "04A1B2D1", "in")
    assert len(state["buffer"]) == 3


def test_offline_messages_are_in_the_members_language():
    state = sim.empty_state()
    state["zone"] = {"code": "gym", "time_zone": "Asia/Bangkok", "anti_passback": "none"}
    state["device"] = {"name": "gate", "kind": "turnstile", "direction": "in"}
    state["language"] = "th"
    membership = {"source": "membership", "windows": [], "valid_from": "2027-01-01"}
    membership["valid_until"] = None
    for value, language in (("0A0B01", "th"), ("0A0B02", "en")):
        state["allowlist"][f"rfid:{value}"] = {
            "credential": value,
            "kind": "rfid",
            "member_id": int(value, 16),
            "member_number": 1,
            "name": "Member",
            "language": language,
            "access": [membership],
        }
    offline = sim.Api("http://127.0.0.1:9", "key", timeout=0.2)  # nothing listens there
    at = dt.datetime(2027, 2, 3, 10, tzinfo=dt.UTC)
    messages = [
        sim.check(offline, state, card, now=at).message for card in ("0A0B01", "0A0B02", "0AFFFF")
    ]
    assert messages == [
        "ยินดีต้อนรับ! (ออฟไลน์)",
        "Welcome! (offline)",
        "ไม่รู้จักบัตรนี้ กรุณาติดต่อเคาน์เตอร์",  # not listed: the gym's language
    ]


def test_a_used_up_pack_kept_past_midnight_is_exhausted_offline_the_next_day():
    """The server does not re-send an entry when the day turns: ``used_on`` says which
    day's visit was taken, so a later sync cannot make an old "used today" look new."""
    state = sim.empty_state()
    state["zone"] = {"code": "gym", "time_zone": "Asia/Bangkok", "anti_passback": "none"}
    state["allowlist"] = {
        "rfid:0A0B0D": {
            "credential": "0A0B0D",
            "kind": "rfid",
            "member_id": 8,
            "member_number": 1008,
            "name": "Last visit",
            "access": [
                {
                    "source": "pack",
                    "pack_id": 3,
                    "name": "10 visits",
                    "remaining": 0,
                    "used_today": True,
                    "used_on": "2027-02-03",
                    "windows": [],
                    "valid_from": "2027-01-01",
                    "valid_until": "2027-06-30",
                }
            ],
        }
    }
    state["synced_day"] = "2027-02-04"  # what an older simulator trusted instead
    bangkok = dt.timezone(dt.timedelta(hours=7))

    def on(day: int) -> Any:
        return sim.decide_offline(
            state, "0A0B0D", "in", dt.datetime(2027, 2, day, 9, tzinfo=bangkok)
        )

    assert (on(3).granted, on(3).reason, on(3).pack_id) == (True, "granted_pack", None)
    assert (on(4).granted, on(4).reason) == (False, "pack_exhausted")


def test_the_command_line_exit_codes_and_run_mode(server, gate, tmp_path):
    _device, key = gate
    active_member_with_card("04A1B2C3")
    url = server.start()
    state_file = tmp_path / "gate.json"

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            simulator(url, key, state_file, "--json", *args),
            cwd=ROOT,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert run("sync").returncode == 0
    granted = run("check", "04A1B2C3")
    assert granted.returncode == 0 and json.loads(granted.stdout)["reason"] == "granted"
    assert run("check", "04FFFFFF").returncode == 1
    wrong_key = subprocess.run(
        simulator(url, "nope.nope", tmp_path / "other.json", "check", "04A1B2C3"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert wrong_key.returncode == 2 and "device_key_invalid" in wrong_key.stderr
    assert run("check", "04A1B2C3", "--direction", "out").returncode == 2, "a one-way gate"

    lines = run("run", stdin="04A1B2C3\n04FFFFFF\n:status\n:quit\n").stdout.splitlines()
    replies = [json.loads(line) for line in lines]
    decisions = [r["reason"] for r in replies if "reason" in r]
    assert decisions == ["granted", "unknown_credential"]
    assert any("total" in r for r in replies), "it synced once the server answered"
    assert replies[-1]["server"] == "reachable"

    server.stop()
    offline = run("check", "04A1B2C3")
    assert offline.returncode == 0 and json.loads(offline.stdout)["source"] == "offline"
    assert run("flush").returncode == 2
    server.start()
    url = server.url
    flushed = run("flush")
    assert flushed.returncode == 0 and json.loads(flushed.stdout)["created"] == 1
    assert json.loads(run("flush").stdout)["created"] == 0


@pytest.mark.django_db
def test_ping_answers_without_authentication_or_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/api/v1/ping")
    assert (response.status_code, response.json()) == (200, {"ok": True})
