"""The pause after a failed snapshot restore (supervisor/cluster/backoff.py): a session whose
restore failed is refused (503, Retry-After) until its pause ends; pauses double to a cap; a
restore that went through ends them; sessions pause on their own."""

from __future__ import annotations

import pytest

from supervisor.cluster import backoff
from supervisor.cluster.backoff import RestoreBackoff
from supervisor.errors import SnapshotStoreError, Unavailable


def test_failures_pause_the_session_doubling_to_a_cap_until_one_succeeds() -> None:
    restores = RestoreBackoff()
    restores.check("a")  # never failed: goes ahead
    pauses = [restores.failed("a", SnapshotStoreError("the store answered 500")) for _ in range(9)]
    assert pauses == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0, 300.0]
    with pytest.raises(Unavailable) as held:
        restores.check("a")
    assert held.value.status == 503 and 290 <= (held.value.retry_after_s or 0) <= 300
    assert "failed 9 time(s)" in held.value.message and "the store answered 500" in held.value.message
    restores.check("b")  # another session is not held by a's failures
    restores.succeeded("a")
    restores.check("a")


def test_the_pause_ends_by_the_monotonic_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(backoff.time, "monotonic", lambda: now[0])
    restores = RestoreBackoff()
    restores.failed("a", OSError(28, "No space left on device"))
    with pytest.raises(Unavailable, match="No space left"):
        restores.check("a")
    now[0] += 4.9
    with pytest.raises(Unavailable):
        restores.check("a")
    now[0] += 0.2
    restores.check("a")  # 5 s passed: the next try may run
    assert restores.failed("a", OSError("again")) == 10.0  # and a failure again pauses longer
