"""The pacer on its own, on a clock the tests move: what it learns from each answer and what it
tells the next call. (Through real clients and a server with limits: tests/reliability/
test_pacer.py.)"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator

import pytest

from runapi_client import _pacer
from runapi_client._pacer import Later, Pacer, Turn, origin_of, pacer_for

pytestmark = pytest.mark.real_pace  # the real pauses: the clock here is fake anyway


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    fake = Clock()
    monkeypatch.setattr(_pacer, "time", fake)
    yield fake


def turns(pacer: Pacer, n: int, cap: int | None = None) -> list[Turn]:
    out = []
    for _ in range(n):
        got = pacer.take(cap)
        assert isinstance(got, Turn), got
        out.append(got)
    return out


def test_a_call_that_meets_no_limit_goes_at_once_and_nothing_is_learned(clock: Clock) -> None:
    pacer = Pacer("https://runapi.ai")
    taken = turns(pacer, 200)
    assert pacer.stats()["in_flight"] == 200
    for turn in taken:
        clock.now += 0.001
        pacer.done(turn)
    assert pacer.stats() == {
        "limit": None,
        "rate": None,
        "in_flight": 0,
        "waits": 0,
        "rate_limited": 0,
        "sent": 200,
        "paused_seconds": 0.0,
    }


def test_retry_after_pauses_every_call_not_yet_sent_and_only_those(clock: Clock) -> None:
    pacer = Pacer("https://runapi.ai")
    first, second = turns(pacer, 2)
    pacer.done(first, limited=True, hint=2.0)
    later = pacer.take()
    assert isinstance(later, Later)
    assert 2.0 <= later.seconds <= 2.0 + 0.21  # the hint, and a jitter of at most ~10 %
    pacer.done(second)  # the call already out is not touched: it answers as it will
    clock.now += 2.0
    assert isinstance(pacer.take(), Turn)
    assert pacer.stats()["paused_seconds"] == 2.0


def test_the_waiting_crowd_leaves_spread_out_not_in_lockstep(clock: Clock) -> None:
    pacer = Pacer("https://runapi.ai")
    (turn,) = turns(pacer, 1)
    pacer.done(turn, limited=True, hint=5.0)
    waits = [pacer.take() for _ in range(100)]
    seconds = [w.seconds for w in waits if isinstance(w, Later)]
    assert len(seconds) == 100 and min(seconds) >= 5.0
    assert len(set(seconds)) > 90  # each its own moment
    assert max(seconds) - min(seconds) > 0.2  # spread over the jitter (0.51 s at most)


@pytest.mark.parametrize(
    "hint",
    [None, 0.0, -3.0, math.nan, math.inf],
    ids=["absent", "zero", "negative", "unreadable", "infinite"],
)
def test_a_hint_that_cannot_be_meant_gets_the_backoff_growing_and_bounded(
    clock: Clock, hint: float | None
) -> None:
    pacer = Pacer("https://runapi.ai")
    pauses = []
    for _ in range(8):
        (turn,) = turns(pacer, 1)
        pacer.done(turn, limited=True, hint=hint)
        pauses.append(pacer.resume_at - clock.now)
        clock.now = pacer.resume_at
    # 0.5 s less up to a quarter, doubling with each 429 in a row, at most 8 s.
    assert 0.375 <= pauses[0] <= 0.5
    assert pauses[1] > pauses[0] and pauses[2] > pauses[1]
    assert all(p <= _pacer.MAX_BACKOFF for p in pauses)
    assert pauses[-1] >= 0.75 * _pacer.MAX_BACKOFF


def test_an_absurd_retry_after_is_capped_so_the_key_never_stalls_for_long(clock: Clock) -> None:
    pacer = Pacer("https://runapi.ai")
    (turn,) = turns(pacer, 1)
    pacer.done(turn, limited=True, hint=6 * 3600.0)
    later = pacer.take()
    assert isinstance(later, Later)
    assert _pacer.MAX_PAUSE <= later.seconds <= _pacer.MAX_PAUSE + 0.5


def test_a_success_after_refusals_resets_the_backoff(clock: Clock) -> None:
    pacer = Pacer("https://runapi.ai")
    for _ in range(4):
        (turn,) = turns(pacer, 1)
        pacer.done(turn, limited=True)
        clock.now = pacer.resume_at
    (turn,) = turns(pacer, 1)
    pacer.done(turn)
    (turn,) = turns(pacer, 1)
    pacer.done(turn, limited=True)
    assert pacer.resume_at - clock.now <= 0.5


def test_a_burst_over_a_limit_on_calls_in_flight_learns_the_limit(clock: Clock) -> None:
    # 64 sent at once to a server taking 16: the 48 refused come back first.
    pacer = Pacer("https://runapi.ai")
    taken = turns(pacer, 64)
    for turn in taken[16:]:
        pacer.done(turn, limited=True, hint=1.0)
    assert pacer.stats()["limit"] == 16
    assert pacer.stats()["rate"] is None
    clock.now += 1.5
    assert pacer.take() is None  # 16 out already: wait for one to end
    pacer.done(taken[0])
    assert isinstance(pacer.take(), Turn)


def test_refusals_within_what_went_through_learn_a_pace_and_calls_keep_appointments(
    clock: Clock,
) -> None:
    pacer = Pacer("https://runapi.ai")
    # 40 calls answered within a second, 4 at a time: a limit on calls in flight is not it.
    for _ in range(10):
        group = turns(pacer, 4)
        clock.now += 0.09
        for turn in group:
            pacer.done(turn)
    out = turns(pacer, 3)
    refused = pacer.take()
    assert isinstance(refused, Turn)
    pacer.done(refused, limited=True, hint=1.0)
    # 40 went through in the last second, 3 more admitted and answering: 43 a second, less 2 %.
    rate = pacer.stats()["rate"]
    assert rate == pytest.approx(43 * _pacer.RATE_MARGIN)
    assert pacer.stats()["limit"] is None
    for turn in out:
        pacer.done(turn)
    clock.now = pacer.resume_at
    # After the pause, calls leave one interval apart, each at the moment it was given.
    first = pacer.take()
    assert isinstance(first, Turn)
    appointments = [pacer.take() for _ in range(5)]
    assert all(isinstance(a, Later) for a in appointments)
    seconds = [a.seconds for a in appointments if isinstance(a, Later)]
    assert seconds == pytest.approx([(i + 1) / float(rate or 1) for i in range(5)])
    clock.now += seconds[0]
    first_booked = appointments[0]
    assert isinstance(first_booked, Later)
    assert isinstance(pacer.take(booking=first_booked.booking), Turn)  # its appointment


def test_a_pause_voids_the_appointments_made_before_it(clock: Clock) -> None:
    pacer = Pacer("https://runapi.ai")
    pacer.rate = 10.0
    (out,) = turns(pacer, 1)
    booked = pacer.take()
    assert isinstance(booked, Later) and booked.booking is not None
    pacer.done(out, limited=True, hint=3.0)
    clock.now += booked.seconds
    again = pacer.take(booking=booked.booking)
    assert isinstance(again, Later) and again.seconds >= 2.5  # the pause, not the old slot


def test_limits_rise_again_after_a_quiet_run(clock: Clock) -> None:
    pacer = Pacer("https://runapi.ai")
    taken = turns(pacer, 8)
    for turn in taken[4:]:
        pacer.done(turn, limited=True, hint=1.0)
    assert pacer.stats()["limit"] == 4
    for turn in taken[:4]:
        pacer.done(turn)
    pacer.rate = 50.0
    clock.now = pacer.resume_at
    # Successes for longer than a quiet run: one step up (additive), and the pace by 5 %.
    while clock.now < pacer.resume_at + _pacer.QUIET_RUN + 1:
        got = pacer.take(booking=pacer._epoch)
        assert isinstance(got, Turn)
        clock.now += 0.05
        pacer.done(got)
    assert pacer.stats()["limit"] == 5
    assert pacer.stats()["rate"] == pytest.approx(52.5)


def test_a_limit_never_falls_below_one_call(clock: Clock) -> None:
    pacer = Pacer("https://runapi.ai")
    for turn in turns(pacer, 8):  # every call of a burst refused
        pacer.done(turn, limited=True, hint=1.0)
    assert pacer.stats()["limit"] == 1
    clock.now = pacer.resume_at + 1
    assert isinstance(pacer.take(), Turn)


def test_a_429_on_a_quiet_key_pauses_it_and_teaches_no_limit_or_pace(clock: Clock) -> None:
    # A few calls a second (a chat, an agent's steps) and one 429, say an upstream overload: a
    # pace of 2 calls a second learned from it would hold a later batch of 500 to it.
    pacer = Pacer("https://runapi.ai")
    for _ in range(3):
        a, b = turns(pacer, 2)
        clock.now += 0.3
        pacer.done(a)
        pacer.done(b)
    a, b = turns(pacer, 2)
    pacer.done(a, limited=True, hint=1.0)
    pacer.done(b)
    stats = pacer.stats()
    assert stats["limit"] is None and stats["rate"] is None
    assert stats["rate_limited"] == 1 and stats["paused_seconds"] == 1.0
    clock.now = pacer.resume_at
    assert all(isinstance(t, Turn) for t in [pacer.take() for _ in range(500)])


def test_max_concurrency_caps_calls_in_flight_whatever_was_learned(clock: Clock) -> None:
    pacer = Pacer("https://runapi.ai")
    turns(pacer, 3, cap=3)
    assert pacer.take(3) is None
    assert isinstance(pacer.take(4), Turn)  # another client on the key, with its own cap


def test_a_turn_given_back_is_free_again_and_teaches_nothing(clock: Clock) -> None:
    pacer = Pacer("https://runapi.ai")
    taken = turns(pacer, 5)
    for turn in taken:
        pacer.give_back(turn)
    stats = pacer.stats()
    assert stats["in_flight"] == 0 and stats["limit"] is None and stats["rate_limited"] == 0
    assert pacer.went_through == 0


def test_a_freed_turn_wakes_the_first_waiter_still_there(clock: Clock) -> None:
    pacer = Pacer("https://runapi.ai")
    woken: list[str] = []

    def waiter(name: str, alive: bool) -> Callable[[], bool]:
        def wake() -> bool:
            if alive:
                woken.append(name)
            return alive

        return wake

    (turn,) = turns(pacer, 1)
    pacer.wait_for(waiter("cancelled", False))
    pacer.wait_for(waiter("first", True))
    forget = pacer.wait_for(waiter("second", True))
    pacer.done(turn)
    assert woken == ["first"]
    assert len(pacer._wakers) == 1  # "second" still waits
    forget()
    assert not pacer._wakers


def test_slowing_down_says_so_at_info_without_the_key(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    pacer = pacer_for(origin_of("https://user:sk-secret@runapi.ai/v1"), b"digest")
    taken = turns(pacer, 4)
    with caplog.at_level(logging.INFO, logger="runapi_client"):
        pacer.done(taken[3], limited=True, hint=2.0)
    (record,) = caplog.records
    assert record.levelno == logging.INFO
    assert "pause 2.00s" in record.getMessage() and "https://runapi.ai" in record.getMessage()
    assert "sk-secret" not in record.getMessage() and "sk-secret" not in repr(pacer)


def test_one_pacer_per_origin_and_key() -> None:
    a = pacer_for(origin_of("https://runapi.ai/v1"), b"key-1")
    assert pacer_for(origin_of("https://runapi.ai/other/v1/"), b"key-1") is a
    assert pacer_for(origin_of("https://runapi.ai/v1"), b"key-2") is not a
    assert pacer_for(origin_of("http://127.0.0.1:9/v1"), b"key-1") is not a
    assert origin_of("https://u:p@runapi.ai:8443/v1") == "https://runapi.ai:8443"
