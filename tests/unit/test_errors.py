"""The error hierarchy: statuses, wire round trips."""

from __future__ import annotations

from supervisor import errors


def test_each_class_has_one_status() -> None:
    assert errors.InvalidRequest("x").status == 400
    assert errors.Unauthorized("x").status == 401
    assert errors.NotFound("x").status == 404
    assert errors.Conflict("x").status == 409
    assert errors.PayloadTooLarge("x").status == 413
    assert errors.TooManySessions("x").status == 429
    assert errors.Unavailable("x").status == 503


def test_from_wire_rebuilds_known_and_unknown_types() -> None:
    conflict = errors.from_wire({"type": "Conflict", "message": "busy"})
    assert isinstance(conflict, errors.Conflict) and conflict.message == "busy"
    foreign = errors.from_wire({"type": "ChromeNotFound", "message": "no chrome"})
    assert isinstance(foreign, errors.WorkerError)
    assert foreign.to_dict() == {"error": {"type": "ChromeNotFound", "message": "no chrome"}}
    # A name that is not an error class must not be instantiated.
    assert isinstance(errors.from_wire({"type": "from_wire", "message": "m"}), errors.WorkerError)


def test_every_wire_error_type_has_its_class() -> None:
    """Each protocol.ErrorType the worker may send maps to the class of the same name (and its
    status), but WORKER_ERROR, the generic one."""
    from worker import protocol

    for wire in protocol.ErrorType:
        rebuilt = errors.from_wire({"type": wire, "message": "m"})
        assert rebuilt.type == wire.value
        if wire is not protocol.ErrorType.WORKER_ERROR:
            assert type(rebuilt).__name__ == wire.value
    # A supervisor-only class is never rebuilt from a worker's words.
    assert isinstance(errors.from_wire({"type": "TooManySessions", "message": "m"}), errors.WorkerError)


def test_from_http_rebuilds_the_class_named_in_the_answer() -> None:
    overloaded = errors.from_http({"type": "Overloaded", "message": "disk"})
    assert isinstance(overloaded, errors.Overloaded) and overloaded.status == 429
    foreign = errors.from_http({"type": "ChromeNotFound", "message": "no chrome"})
    assert isinstance(foreign, errors.WorkerError) and foreign.type == "ChromeNotFound"
