#!/usr/bin/env python3
"""A turnstile reader on the command line: checks online, decides offline, uploads later.

    turnstile_sim.py --url http://127.0.0.1:8000 --key KEY --state-file gate.json sync
    turnstile_sim.py ... check 04:A1:B2:C3 [--direction in|out]
    turnstile_sim.py ... flush
    turnstile_sim.py ... run            # one credential per line on stdin
    turnstile_sim.py ... status

It behaves as a reader should (the access API of ``access_control``):

``check``
    Asks ``POST /api/v1/access/check`` with a fresh ``device_event_id``.  If the server
    cannot be reached, does not answer within ``--timeout`` seconds or answers 5xx, the
    reader decides from its cached allowlist (validity dates, time windows in the zone's
    time zone, pack visits, anti-passback) and buffers the decision under the same
    ``device_event_id``, so an attempt the server did record is not counted twice.
    The direction is the device's own (the allowlist says which), or for a two-way
    device the one asked, else ``in``.  Offline, an exit opens for any card (a member
    suspended while inside is not on the list), and the message is in the member's
    language (the gym's for a card not listed).
    A refused key (401) or a refused request (400) is an error, never a reason to open.
``sync``
    ``GET /api/v1/access/allowlist`` with the stored cursor; applies the changes
    (removals included), or replaces everything when the server says ``full``.
``flush``
    ``POST /api/v1/access/events`` with the buffered decisions, in batches.  Events the
    server acknowledges (``created`` or ``duplicate``) leave the buffer, so flushing again
    sends nothing, and a flush whose answer was lost is simply sent again.  Events the
    server refuses as invalid move to ``rejected`` in the state file.
``run``
    Reads credentials from stdin (``CREDENTIAL [in|out]``, or ``:sync``, ``:flush``,
    ``:status``, ``:quit``); after a check that reached the server it uploads what is
    buffered, and it syncs every ``--sync-every`` seconds.

Exit status: 0 granted (or the command succeeded), 1 denied, 2 error.  The state file
is JSON and is replaced atomically; a lock file beside it serialises simulators sharing
it.  Standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import hmac
import http.client
import json
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no locking
    fcntl = None  # type: ignore[assignment]

GRANTED, DENIED, ERROR = 0, 1, 2
CHECK = "/api/v1/access/check"
ALLOWLIST = "/api/v1/access/allowlist"
EVENTS = "/api/v1/access/events"
PING = "/api/v1/ping"
UPLOAD_BATCH = 500  # the server's ACCESS_EVENTS_MAX_BATCH
MAX_CREDENTIAL = 128
# The member QR pass (see access_control.credentials): a code per 30 s step, ±1 step.
QR_STEP_SECONDS = 30
QR_SKEW_STEPS = 1
STATE_VERSION = 1

_HEX_SEPARATORS = re.compile(r"[\s:\-]")
_WIEGAND26_PAIR = re.compile(r"([0-9]{1,3}):([0-9]{1,5})")  # ASCII digits only
_DECIMAL = re.compile(r"[0-9]+")
_PRINTABLE = re.compile(r"[\x21-\x7e]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_QR_ALPHABET = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


class SimulatorError(Exception):
    """Something the operator must fix: a refused key, a bad request, no allowlist."""


class Unreachable(Exception):
    """The server did not answer usefully: decide from the allowlist."""


# --- Talking to the server -------------------------------------------------------------


@dataclass
class Api:
    url: str
    key: str
    timeout: float = 1.5

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """``(status, parsed JSON)`` for a 2xx or 4xx; raises :class:`Unreachable` otherwise."""
        parts = urlsplit(self.url)
        connection_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_class(parts.netloc, timeout=self.timeout)
        headers = {"Authorization": f"Device {self.key}", "Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            connection.request(method, parts.path.rstrip("/") + path, payload, headers)
            response = connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:  # refused, timed out, reset
            raise Unreachable(str(exc) or type(exc).__name__) from exc
        finally:
            connection.close()
        if response.status >= 500:
            raise Unreachable(f"HTTP {response.status}")
        try:
            data = json.loads(raw) if raw else None
        except ValueError as exc:
            raise Unreachable(f"HTTP {response.status}, not JSON") from exc
        return response.status, data


def _refusal(status: int, data: Any) -> SimulatorError:
    if isinstance(data, dict):
        detail = f"{data.get('code', '')}: {data.get('message', '')}"
        if data.get("fields"):
            detail += f" {data['fields']}"
    else:
        detail = str(data)
    return SimulatorError(f"HTTP {status} {detail}")


# --- The state file ----------------------------------------------------------------------


def empty_state() -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "reader_id": uuid.uuid4().hex[:8],
        "cursor": None,
        "zone": None,
        "device": None,  # this reader's name, kind and direction, as the allowlist says
        "language": "en",  # the gym's, for cards that are not listed
        "synced_at": None,
        "allowlist": {},  # "kind:value" -> entry, as the allowlist sends it
        "buffer": [],  # decisions made offline, not yet acknowledged
        "rejected": [],  # decisions the server refused as invalid, with its reasons
        "passes": {},  # member id -> last granted pass here, for anti-passback
        "pack_visits": [],  # visits taken offline: {pack_id, day, event, flushed_at}
    }


def load_state(path: Path) -> dict[str, Any]:
    if not path.exists():
        return empty_state()
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SimulatorError(f"cannot read the state file {path}: {exc}") from exc
    return {**empty_state(), **state}


def save_state(path: Path, state: dict[str, Any]) -> None:
    directory = path.parent if str(path.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    with os.fdopen(handle, "w") as out:
        json.dump(state, out, indent=1, sort_keys=True)
    os.replace(temporary, path)


@contextlib.contextmanager
def locked_state(path: Path) -> Iterator[dict[str, Any]]:
    """The state, locked against other simulators for the block, saved after it."""
    with open(f"{path}.lock", "w") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        state = load_state(path)
        try:
            yield state
        finally:
            save_state(path, state)


def _key(kind: str, value: str) -> str:
    return f"{kind}:{value}"


# --- Reading what was presented (as the server does; see access_control.credentials) ---


def _hex_uid(text: str) -> str | None:
    if not text.isascii():
        return None
    digits = _HEX_SEPARATORS.sub("", text).upper()
    if re.fullmatch(r"[0-9A-F]+", digits or "-") and 6 <= len(digits) <= 20 and not len(digits) % 2:
        return digits
    return None


def _wiegand26(text: str) -> str | None:
    pair = _WIEGAND26_PAIR.fullmatch(text)
    if pair:
        facility, card = int(pair.group(1)), int(pair.group(2))
        return f"{facility << 16 | card:06X}" if facility <= 0xFF and card <= 0xFFFF else None
    if _DECIMAL.fullmatch(text) and len(text) <= 10 and int(text) <= 0xFFFFFF:
        return f"{int(text):06X}"
    return None


def _wiegand34(text: str) -> str | None:
    if _DECIMAL.fullmatch(text) and len(text) <= 13 and int(text) <= 0xFFFFFFFF:
        return f"{int(text):08X}"
    return None


_READERS = {"hex": _hex_uid, "wiegand26": _wiegand26, "wiegand34": _wiegand34}


def readings(text: str, reader_format: str = "auto") -> list[tuple[str, str]]:
    """The ``(kind, stored value)`` pairs ``text`` may be, best first."""
    text = text.strip()
    qr = text.split(":")
    if len(qr) == 3 and qr[0] == "QR1":
        return [("qr", qr[1].upper())]
    if reader_format != "auto":
        order = [reader_format]
    elif _WIEGAND26_PAIR.fullmatch(text):
        order = ["wiegand26"]
    else:
        order = ["hex", "wiegand34", "wiegand26"]
    found: list[tuple[str, str]] = []
    for form in order:
        value = _READERS[form](text)
        if value is not None and ("rfid", value) not in found:
            found.append(("rfid", value))
    if text and len(text) <= 64 and _PRINTABLE.fullmatch(text):
        found.append(("barcode", text))
    return found


def qr_fresh(text: str, qr_key_hex: str, now: dt.datetime) -> bool:
    _prefix, public_id, code = text.strip().split(":")
    public_id, code = public_id.upper(), code.lower()
    if len(public_id) != 16 or set(public_id) - _QR_ALPHABET:
        return False
    step = int(now.timestamp()) // QR_STEP_SECONDS
    key = bytes.fromhex(qr_key_hex)
    return any(
        hmac.compare_digest(
            code, hmac.new(key, f"{public_id}:{n}".encode(), hashlib.sha256).hexdigest()[:10]
        )
        for n in range(step - QR_SKEW_STEPS, step + QR_SKEW_STEPS + 1)
    )


# --- Deciding offline ------------------------------------------------------------------------


@dataclass
class Decision:
    granted: bool
    reason: str
    message: str = ""
    member: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    source: str = "online"  # or "offline"
    event_id: int | None = None
    device_event_id: str = ""
    pack_id: int | None = None  # the pack whose visit this offline entry takes

    def as_dict(self) -> dict[str, Any]:
        return {
            "granted": self.granted,
            "reason": self.reason,
            "message": self.message,
            "member": self.member,
            "warnings": self.warnings,
            "source": self.source,
            "event_id": self.event_id,
            "device_event_id": self.device_event_id,
        }


OFFLINE_MESSAGES = {
    "en": {
        "granted": "Welcome! (offline)",
        "granted_pack": "Welcome! This visit is on your pack. (offline)",
        "unknown_credential": "Card not recognised. Please see the front desk.",
        "qr_expired": "This pass code has expired.",
        "no_membership": "No valid access at this time. Please see the front desk.",
        "membership_cancelled": "Your membership has ended.",
        "outside_hours": "Your plan does not allow entry at this time.",
        "pack_exhausted": "Your visit pack is used up.",
        "anti_passback": "This pass was just used here. Please see the front desk.",
    },
    "th": {
        "granted": "ยินดีต้อนรับ! (ออฟไลน์)",
        "granted_pack": "ยินดีต้อนรับ! ครั้งนี้ใช้สิทธิ์จากแพ็กเกจของคุณ (ออฟไลน์)",
        "unknown_credential": "ไม่รู้จักบัตรนี้ กรุณาติดต่อเคาน์เตอร์",
        "qr_expired": "รหัสผ่านนี้หมดอายุแล้ว",
        "no_membership": "ไม่มีสิทธิ์เข้าในเวลานี้ กรุณาติดต่อเคาน์เตอร์",
        "membership_cancelled": "สมาชิกภาพของคุณสิ้นสุดแล้ว",
        "outside_hours": "แพ็กเกจของคุณไม่อนุญาตให้เข้าในเวลานี้",
        "pack_exhausted": "สิทธิ์ในแพ็กเกจของคุณใช้หมดแล้ว",
        "anti_passback": "บัตรนี้เพิ่งใช้ผ่านที่นี่ กรุณาติดต่อเคาน์เตอร์",
    },
}


def offline_message(reason: str, language: str | None) -> str:
    """The reader's message, in the member's language (else English)."""
    messages = OFFLINE_MESSAGES.get(language or "en", OFFLINE_MESSAGES["en"])
    return messages.get(reason, OFFLINE_MESSAGES["en"].get(reason, reason))


def _window_admits(window: dict[str, Any], local: dt.datetime) -> bool:
    """One plan window (weekday digits, ``HH:MM`` start and end, local), as billing reads it."""
    days = window.get("weekdays") or "1234567"
    start, end = window.get("start"), window.get("end")
    if not start or not end or start == end:
        return str(local.isoweekday()) in days
    begins, ends = dt.time.fromisoformat(start), dt.time.fromisoformat(end)
    moment = local.time().replace(tzinfo=None)
    if begins < ends:
        return str(local.isoweekday()) in days and begins <= moment < ends
    if moment >= begins:
        return str(local.isoweekday()) in days
    if moment < ends:
        return str((local - dt.timedelta(days=1)).isoweekday()) in days
    return False


def _valid_on(grant: dict[str, Any], day: dt.date) -> bool:
    first = dt.date.fromisoformat(grant["valid_from"])
    last = grant.get("valid_until")
    return first <= day and (last is None or day <= dt.date.fromisoformat(last))


def _pack_visits(state: dict[str, Any], pack_id: int) -> list[dict[str, Any]]:
    return [v for v in state["pack_visits"] if v["pack_id"] == pack_id]


def _pack_decision(
    state: dict[str, Any], packs: list[dict[str, Any]], today: dt.date
) -> Decision | None:
    """Rule 7 offline: a pack valid today admits; its first entry of the day takes a visit."""
    valid = [p for p in packs if _valid_on(p, today)]
    if not valid:
        return None
    for pack in valid:
        used_here = any(v["day"] == today.isoformat() for v in _pack_visits(state, pack["pack_id"]))
        # The server names the day whose visit it has taken; the entry may be days old.
        if used_here or pack.get("used_on") == today.isoformat():
            return Decision(True, "granted_pack")
    for pack in sorted(valid, key=lambda p: (p["valid_until"], p["pack_id"])):
        if pack["remaining"] - len(_pack_visits(state, pack["pack_id"])) > 0:
            return Decision(True, "granted_pack", pack_id=pack["pack_id"])
    return Decision(False, "pack_exhausted")


def _passback(state: dict[str, Any], member_id: int, direction: str, now: dt.datetime) -> bool:
    zone = state["zone"] or {}
    mode = zone.get("anti_passback", "none")
    last = state["passes"].get(str(member_id))
    if mode == "none" or not last or last["direction"] != direction:
        return False
    at = dt.datetime.fromisoformat(last["at"])
    if mode == "timed":
        return now - at < dt.timedelta(minutes=int(zone.get("anti_passback_minutes", 5)))
    tz = ZoneInfo(zone["time_zone"])
    return at.astimezone(tz).date() == now.astimezone(tz).date()


def decide_offline(
    state: dict[str, Any],
    credential: str,
    direction: str,
    now: dt.datetime,
    reader_format: str = "auto",
) -> Decision:
    """What the reader decides from its allowlist alone (see the module docstring)."""
    if state.get("zone") is None:
        raise SimulatorError("no allowlist yet: run `sync` while the server is reachable")
    local = now.astimezone(ZoneInfo(state["zone"]["time_zone"]))
    entry = None
    for kind, value in readings(credential, reader_format):
        entry = state["allowlist"].get(_key(kind, value))
        if entry is not None:
            break
    if entry is None:
        if direction == "out":
            # An exit opens for any card: nobody is kept inside, and offline a member who
            # was suspended or frozen while inside is not on the list at all.
            return Decision(True, "granted")
        return Decision(False, "unknown_credential")
    member = {
        "id": entry["member_id"],
        "name": entry["name"],
        "member_number": entry["member_number"],
        "language": entry.get("language"),
    }
    if entry["kind"] == "qr" and not qr_fresh(credential, entry.get("qr_key", ""), now):
        return Decision(False, "qr_expired", member=member)
    if direction == "out":
        decision = Decision(True, "granted")
    else:
        decision = _entry_decision(state, entry, local)
    decision.member = member
    if decision.granted and _passback(state, entry["member_id"], direction, now):
        return Decision(False, "anti_passback", member=member)
    return decision


def _entry_decision(state: dict[str, Any], entry: dict[str, Any], local: dt.datetime) -> Decision:
    today = local.date()
    memberships = [g for g in entry["access"] if g["source"] == "membership"]
    refusal = "no_membership"
    for grant in memberships:
        if not _valid_on(grant, today):
            ended = grant.get("valid_until") and today > dt.date.fromisoformat(grant["valid_until"])
            refusal = "membership_cancelled" if ended else refusal
            continue
        if not grant["windows"] or any(_window_admits(w, local) for w in grant["windows"]):
            return Decision(True, "granted")
        refusal = "outside_hours"
    packs = [g for g in entry["access"] if g["source"] == "pack"]
    by_pack = _pack_decision(state, packs, today)
    return by_pack if by_pack is not None else Decision(False, refusal)


def _record_pass(
    state: dict[str, Any], decision: Decision, direction: str | None, now: dt.datetime
) -> None:
    """Remember a granted pass, online or offline, for anti-passback offline."""
    if decision.granted and decision.member:
        state["passes"][str(decision.member["id"])] = {
            "direction": direction or "in",
            "at": now.isoformat(),
        }


def _record_offline(
    state: dict[str, Any],
    decision: Decision,
    credential: str,
    direction: str | None,
    now: dt.datetime,
) -> None:
    """Buffer the decision for upload, and remember what later offline decisions need."""
    event: dict[str, Any] = {
        "device_event_id": decision.device_event_id,
        "credential": credential,
        "occurred_at": now.isoformat(),
        "granted": decision.granted,
        "reason": decision.reason,
    }
    if direction:
        event["direction"] = direction
    state["buffer"].append(event)
    _record_pass(state, decision, direction, now)
    if decision.pack_id is not None:
        zone_tz = ZoneInfo(state["zone"]["time_zone"])
        state["pack_visits"].append(
            {
                "pack_id": decision.pack_id,
                "day": now.astimezone(zone_tz).date().isoformat(),
                "event": decision.device_event_id,
                "flushed_at": None,
            }
        )


# --- Commands ----------------------------------------------------------------------------------


def clean_credential(raw: str) -> str:
    """What is sent: no control characters, at most what the API accepts."""
    return _CONTROL.sub("", raw).strip()[:MAX_CREDENTIAL]


def reader_direction(state: dict[str, Any], asked: str | None) -> str:
    """The way a pass goes: a one-way device's own (asking it for the other way is an
    error, as the server says), else the one asked, else entry."""
    own = (state.get("device") or {}).get("direction")
    if own in ("in", "out"):
        if asked and asked != own:
            raise SimulatorError(f"this device only reads the direction '{own}'")
        return str(own)
    return asked or "in"


def check(
    api: Api,
    state: dict[str, Any],
    credential: str,
    direction: str | None = None,
    *,
    now: dt.datetime | None = None,
    reader_format: str = "auto",
) -> Decision:
    """Online if the server answers, else from the allowlist (buffered for upload)."""
    credential = clean_credential(credential)
    if not credential:
        raise SimulatorError("nothing was read")
    way = reader_direction(state, direction)
    event_id = f"{state['reader_id']}-{uuid.uuid4().hex}"
    body: dict[str, Any] = {"credential": credential, "device_event_id": event_id}
    if direction:
        body["direction"] = direction
    try:
        status, data = api.request("POST", CHECK, body)
    except Unreachable:
        at = now or dt.datetime.now(dt.UTC)
        decision = decide_offline(state, credential, way, at, reader_format)
        decision.source, decision.device_event_id = "offline", event_id
        language = (decision.member or {}).get("language") or state.get("language")
        decision.message = offline_message(decision.reason, language)
        _record_offline(state, decision, credential, way, at)
        return decision
    if status != 200:
        raise _refusal(status, data)
    decision = Decision(
        granted=bool(data["granted"]),
        reason=data["reason"],
        message=data["message"],
        member=data.get("member"),
        warnings=[f"{w['code']}: {w['message']}" for w in data.get("warnings", [])],
        event_id=data.get("event_id"),
        device_event_id=event_id,
    )
    # Anti-passback offline must see a pass the server granted just before it went away.
    _record_pass(state, decision, way, now or dt.datetime.now(dt.UTC))
    return decision


@dataclass
class SyncResult:
    full: bool
    changed: int
    removed: int
    total: int


def sync(api: Api, state: dict[str, Any]) -> SyncResult:
    """Fetch the allowlist's changes since the stored cursor and apply them."""
    query = f"?{urlencode({'cursor': state['cursor']})}" if state.get("cursor") else ""
    try:
        status, page = api.request("GET", ALLOWLIST + query)
    except Unreachable as exc:
        raise SimulatorError(f"server unreachable ({exc}); the allowlist is unchanged") from exc
    if status != 200:
        raise _refusal(status, page)
    allowlist = {} if page["full"] else dict(state["allowlist"])
    for item in page["removed"]:
        allowlist.pop(_key(item["kind"], item["credential"]), None)
    for entry in page["credentials"]:
        allowlist[_key(entry["kind"], entry["credential"])] = entry
    generated = dt.datetime.fromisoformat(page["generated_at"].replace("Z", "+00:00"))
    # Visits uploaded before this page was made are in its counts now.
    state["pack_visits"] = [
        v
        for v in state["pack_visits"]
        if v["flushed_at"] is None or dt.datetime.fromisoformat(v["flushed_at"]) > generated
    ]
    state.update(
        allowlist=allowlist,
        cursor=page["next_cursor"],
        zone=page["zone"],
        device=page.get("device"),
        language=page.get("language") or "en",
        synced_at=page["generated_at"],
    )
    return SyncResult(page["full"], len(page["credentials"]), len(page["removed"]), len(allowlist))


@dataclass
class FlushResult:
    created: int = 0
    duplicate: int = 0
    rejected: int = 0
    left: int = 0


def _invalid_indexes(data: Any) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for name, messages in ((data or {}).get("fields") or {}).items():
        match = re.match(r"events\.(\d+)\.", name)
        if match:
            found.setdefault(int(match.group(1)), []).append(f"{name}: {messages}")
    return found


def flush(api: Api, state: dict[str, Any]) -> FlushResult:
    """Upload the buffer; acknowledged events leave it (see the module docstring)."""
    result = FlushResult()
    while state["buffer"]:
        batch = state["buffer"][:UPLOAD_BATCH]
        try:
            status, data = api.request("POST", EVENTS, {"events": batch})
        except Unreachable as exc:
            result.left = len(state["buffer"])
            raise SimulatorError(
                f"server unreachable ({exc}); {result.left} events still buffered"
            ) from exc
        if status == 400 and (bad := _invalid_indexes(data)):
            for index in sorted(bad, reverse=True):
                event = state["buffer"].pop(index)
                state["rejected"].append({**event, "errors": bad[index]})
                result.rejected += 1
            continue
        if status != 200:
            raise _refusal(status, data)
        acknowledged = {r["device_event_id"]: r["status"] for r in data["results"]}
        result.created += sum(1 for s in acknowledged.values() if s == "created")
        result.duplicate += sum(1 for s in acknowledged.values() if s == "duplicate")
        state["buffer"] = [e for e in state["buffer"] if e["device_event_id"] not in acknowledged]
        flushed_at = dt.datetime.now(dt.UTC).isoformat()
        for visit in state["pack_visits"]:
            if visit["event"] in acknowledged and visit["flushed_at"] is None:
                visit["flushed_at"] = flushed_at
    result.left = len(state["buffer"])
    return result


def ping(api: Api) -> bool:
    try:
        status, data = api.request("GET", PING)
    except Unreachable:
        return False
    return status == 200 and bool(data and data.get("ok"))


# --- The command line --------------------------------------------------------------------------


def describe(decision: Decision) -> str:
    member = decision.member
    who = f" - {member['name']} #{member['member_number']}" if member else ""
    where = (
        f"offline, buffered as {decision.device_event_id}"
        if decision.source == "offline"
        else f"online, event {decision.event_id}"
    )
    lines = [
        f"{'GRANTED' if decision.granted else 'DENIED '}  {decision.reason}  "
        f"{decision.message}{who}  [{where}]"
    ]
    lines += [f"  ! {warning}" for warning in decision.warnings]
    return "\n".join(lines)


def _print(args: argparse.Namespace, data: dict[str, Any], text: str, out: TextIO) -> None:
    print(json.dumps(data) if args.json else text, file=out, flush=True)


def _status(api: Api, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "server": "reachable" if ping(api) else "unreachable",
        "zone": (state.get("zone") or {}).get("code"),
        "synced_at": state.get("synced_at"),
        "allowlist": len(state["allowlist"]),
        "buffered": len(state["buffer"]),
        "rejected": len(state["rejected"]),
    }


def command_check(args: argparse.Namespace, api: Api, state: dict[str, Any]) -> int:
    decision = check(api, state, args.credential, args.direction, reader_format=args.format)
    _print(args, decision.as_dict(), describe(decision), sys.stdout)
    return GRANTED if decision.granted else DENIED


def command_sync(args: argparse.Namespace, api: Api, state: dict[str, Any]) -> int:
    done = sync(api, state)
    text = (
        f"{'full list' if done.full else 'changes'}: {done.changed} entries, "
        f"{done.removed} removed; {done.total} credentials held"
    )
    _print(args, vars(done), text, sys.stdout)
    return 0


def command_flush(args: argparse.Namespace, api: Api, state: dict[str, Any]) -> int:
    done = flush(api, state)
    text = (
        f"uploaded: {done.created} new, {done.duplicate} already there; "
        f"{done.rejected} rejected; {done.left} left"
    )
    _print(args, vars(done), text, sys.stdout)
    return 0


def command_status(args: argparse.Namespace, api: Api, state: dict[str, Any]) -> int:
    status = _status(api, state)
    _print(args, status, "  ".join(f"{k}: {v}" for k, v in status.items()), sys.stdout)
    return 0


def command_run(args: argparse.Namespace, api: Api, state_file: Path) -> int:
    """Read one credential per line until end of input or ``:quit``."""
    last_sync: float | None = None  # sync after the first online check
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        with locked_state(state_file) as state:
            try:
                if words[0] == ":quit":
                    break
                if words[0] in (":sync", ":flush", ":status"):
                    {":sync": command_sync, ":flush": command_flush, ":status": command_status}[
                        words[0]
                    ](args, api, state)
                    continue
                direction = words[-1] if len(words) > 1 and words[-1] in ("in", "out") else None
                credential = " ".join(words[:-1] if direction else words)
                decision = check(api, state, credential, direction, reader_format=args.format)
                _print(args, decision.as_dict(), describe(decision), sys.stdout)
                if decision.source == "online":
                    if state["buffer"]:
                        command_flush(args, api, state)
                    if last_sync is None or time.monotonic() - last_sync >= args.sync_every:
                        command_sync(args, api, state)
                        last_sync = time.monotonic()
            except SimulatorError as exc:
                print(f"error: {exc}", file=sys.stderr, flush=True)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=os.environ.get("GATE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--key", default=os.environ.get("GATE_KEY", ""), help="the device key")
    parser.add_argument("--state-file", type=Path, default=Path("turnstile-state.json"))
    parser.add_argument("--timeout", type=float, default=1.5, help="seconds to wait for the server")
    parser.add_argument(
        "--format",
        choices=["auto", "hex", "wiegand26", "wiegand34"],
        default="auto",
        help="how this reader writes card numbers (the device's credential format)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON, one object a line")
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("check", help="check one credential")
    one.add_argument("credential")
    one.add_argument("--direction", choices=["in", "out"])
    commands.add_parser("sync", help="fetch the allowlist's changes")
    commands.add_parser("flush", help="upload the decisions made offline")
    commands.add_parser("status", help="server, allowlist and buffer")
    run = commands.add_parser("run", help="read credentials from stdin, one a line")
    run.add_argument("--sync-every", type=float, default=300, help="seconds between syncs")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.key:
        print("error: give the device key (--key or GATE_KEY)", file=sys.stderr)
        return ERROR
    api = Api(args.url, args.key, args.timeout)
    try:
        if args.command == "run":
            return command_run(args, api, args.state_file)
        handlers = {
            "check": command_check,
            "sync": command_sync,
            "flush": command_flush,
            "status": command_status,
        }
        with locked_state(args.state_file) as state:
            return handlers[args.command](args, api, state)
    except SimulatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ERROR


if __name__ == "__main__":
    sys.exit(main())
