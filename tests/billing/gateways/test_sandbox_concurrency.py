"""The sandbox under concurrent callers: one key moves money once; latency overlaps."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from billing.gateways.interface import ChargeRequest, ChargeStatus, RefundRequest
from billing.gateways.sandbox import SandboxGateway

MakeCharge = Callable[..., ChargeRequest]
T = TypeVar("T")


def _all_at_once(count: int, call: Callable[[int], T]) -> list[T]:
    """Run ``call(0..count-1)`` in ``count`` threads released together by a barrier."""
    barrier = threading.Barrier(count)

    def run(index: int) -> T:
        barrier.wait()
        return call(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_twenty_threads_with_one_key_move_money_once(charge_request: MakeCharge) -> None:
    sandbox = SandboxGateway(latency_ms=50)
    request = charge_request(key="contended", amount=99000)

    results = _all_at_once(20, lambda _: sandbox.charge(request))

    assert {result.status for result in results} == {ChargeStatus.SUCCEEDED}
    assert all(result == results[0] for result in results)
    assert len(sandbox.ledger_for("contended")) == 1
    assert sandbox.total_charged("tok_ok") == 99000
    assert sandbox.total_charged(results[0].gateway_reference) == 99000


def test_concurrent_timeouts_with_one_key_charge_once(charge_request: MakeCharge) -> None:
    sandbox = SandboxGateway(latency_ms=20)
    request = charge_request(token="tok_timeout", key="lost", amount=5000)

    results = _all_at_once(20, lambda _: sandbox.charge(request))

    assert {result.status for result in results} == {ChargeStatus.UNKNOWN}
    assert sandbox.total_charged("tok_timeout") == 5000
    found = sandbox.lookup_charge("lost")
    assert found is not None and found.status == ChargeStatus.SUCCEEDED


def test_concurrent_succeed_after_counts_each_key_once(charge_request: MakeCharge) -> None:
    sandbox = SandboxGateway()
    token = "tok_succeed_after_5"

    results = _all_at_once(
        20, lambda i: sandbox.charge(charge_request(token=token, key=f"k{i % 10}", amount=100))
    )

    by_key = {f"k{i % 10}": result for i, result in enumerate(results)}
    statuses = [result.status for result in by_key.values()]
    assert statuses.count(ChargeStatus.FAILED) == 5
    assert statuses.count(ChargeStatus.SUCCEEDED) == 5
    assert sandbox.total_charged(token) == 500


def test_latency_overlaps_across_threads(charge_request: MakeCharge) -> None:
    sandbox = SandboxGateway(latency_ms=200)

    started = time.monotonic()
    results = _all_at_once(10, lambda i: sandbox.charge(charge_request(key=f"slow-{i}")))
    elapsed = time.monotonic() - started

    assert all(result.status == ChargeStatus.SUCCEEDED for result in results)
    assert 0.2 <= elapsed < 1.0, elapsed
    assert sandbox.total_charged("tok_ok") == 10 * 150000


def test_concurrent_refunds_never_exceed_the_charge(charge_request: MakeCharge) -> None:
    sandbox = SandboxGateway(latency_ms=10)
    reference = sandbox.charge(charge_request(key="c", amount=1000)).gateway_reference

    results = _all_at_once(
        10,
        lambda i: sandbox.refund(
            RefundRequest(
                gateway_reference=reference, amount=300, currency="THB", idempotency_key=f"r{i}"
            )
        ),
    )

    assert sum(result.succeeded for result in results) == 3
    assert sandbox.total_refunded(reference) == 900


def test_concurrent_refunds_with_one_key_refund_once(charge_request: MakeCharge) -> None:
    sandbox = SandboxGateway(latency_ms=10)
    reference = sandbox.charge(charge_request(key="c", amount=1000)).gateway_reference
    request = RefundRequest(
        gateway_reference=reference, amount=700, currency="THB", idempotency_key="one-refund"
    )

    results = _all_at_once(20, lambda _: sandbox.refund(request))

    assert all(result.succeeded and result == results[0] for result in results)
    assert len(sandbox.ledger_for("one-refund")) == 1
    assert sandbox.total_refunded(reference) == 700
