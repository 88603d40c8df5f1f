"""The readers' shared Pace: it learns IAM's accepted rate from the answers."""

from __future__ import annotations

from typing import Any

import botocore.session

from heartbleed.container import WarmContainer
from heartbleed.pacing import BACK_OFF, Pace, standard_retries
from heartbleed.retry_policy import CLIENT_CONFIG

OK: tuple[None, dict[str, object]] = (None, {"ResponseMetadata": {}})
THROTTLED = (None, {"Error": {"Code": "Throttling", "Message": "Rate exceeded"}})


def test_no_limit_until_the_first_throttle() -> None:
    pace = Pace()
    for _ in range(50):
        pace.observe(response=OK)
    assert pace.rate is None


def test_a_throttle_sets_the_rate_just_under_what_was_accepted_once_per_window() -> None:
    pace = Pace()
    for _ in range(20):
        pace.observe(response=OK)
    pace.observe(response=THROTTLED)
    assert pace.rate == BACK_OFF * 20
    # The other requests in flight come back throttled too: one overload, one cut.
    for _ in range(10):
        pace.observe(response=THROTTLED)
    assert pace.rate == BACK_OFF * 20


def send(pace: Pace, count: int) -> None:
    for _ in range(count):
        pace.wait()  # botocore's before-send: every attempt passes here


def test_throttles_before_any_accepted_answer_count_what_was_sent_and_not_refused() -> None:
    # IAM refuses at once and answers accepted reads later: 21 sent, the 21st refused first.
    pace = Pace()
    send(pace, 21)
    pace.observe(response=THROTTLED)
    assert pace.rate == BACK_OFF * 20  # not one request a second


def test_connection_errors_and_other_errors_do_not_move_the_rate() -> None:
    pace = Pace()
    pace.observe(response=None)
    pace.observe(response=(None, {"Error": {"Code": "ServiceFailure"}}))
    assert pace.rate is None


def test_the_rate_never_drops_below_one_request_a_second() -> None:
    pace = Pace()
    pace.observe(response=OK)
    pace.observe(response=THROTTLED)
    assert pace.rate == 1.0


def test_a_later_cut_takes_at_most_a_fifth_of_the_pace() -> None:
    # Readers in retry backoff send little, so a window may hold few accepted answers.
    pace = Pace()
    pace.rate = 18.0
    pace.observe(response=OK)  # one accepted answer in the window (and the pace grows a little)
    before = pace.rate
    pace.observe(response=THROTTLED)
    assert pace.rate == before * 0.8  # not 0.9 requests a second


def test_a_throttled_read_pauses_briefly_then_takes_its_slot_until_the_client_runs_out_of_attempts() -> None:
    # A short pause of its own, doubling up to a second (then wait() gives the retry its place on the pace).
    pace = Pace(max_attempts=10)
    pauses = [pace.observe(response=THROTTLED, attempts=attempt) for attempt in range(1, 10)]
    assert pauses == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0, 1.0]
    # Past any one-second window that refuses everything, even for a read alone in the queue.
    assert sum(p for p in pauses if p is not None) > 6
    # Out of attempts, and for anything but a throttle: botocore's retry handler decides.
    assert pace.observe(response=THROTTLED, attempts=10) is None
    assert pace.observe(response=(None, {"Error": {"Code": "ServiceFailure"}}), attempts=1) is None
    assert pace.observe(response=OK, attempts=1) is None


def test_botocore_stands_aside_only_for_the_attempts_the_pace_retries() -> None:
    client = botocore.session.get_session().create_client(
        "iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y", config=CLIENT_CONFIG
    )
    taken_over = WarmContainer().paced_clients
    retries = standard_retries(client, taken_over)
    assert retries is not None and standard_retries(client, taken_over) is retries  # taken over once per client
    handler: Any = retries.handler
    quota = handler._retry_quota._quota  # botocore offers no public reader
    operation = client.meta.service_model.operation_model("GetServerCertificate")
    needs_retry: dict[str, Any] = {
        "response": THROTTLED,
        "attempts": 1,
        "operation": operation,
        "caught_exception": None,
        "request_dict": {"context": {}},
    }
    assert Pace().observe(**needs_retry) == 0.1  # the pace retries attempt 1 (botocore asks it first)
    assert retries.needs_retry(**needs_retry) is None
    assert quota.available_capacity == 500
    # An attempt the pace did not answer (here: never shown to it) is botocore's, and costs 5 units.
    assert retries.needs_retry(**{**needs_retry, "attempts": 2}) is not None
    assert quota.available_capacity == 495
