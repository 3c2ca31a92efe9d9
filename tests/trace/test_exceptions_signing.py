"""Exception rules (pure) and the key directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from xborder.trace.exceptions import DAY_MS, Checkpoint, ExceptionKind, Thresholds, findings
from xborder.trace.lifecycle import LIFECYCLE, Step
from xborder.trace.signing import KeyStore, verify_signature


def _cp(day: float, party: str, step: Step) -> Checkpoint:
    spec = LIFECYCLE[step]
    return Checkpoint(int(day * DAY_MS), party, spec.biz_step, spec.disposition)


def test_damage_is_charged_to_the_previous_custodian() -> None:
    history = [
        _cp(0, "shop", Step.PICKED_PACKED),
        _cp(1, "fwd", Step.DEPARTED),
        _cp(3, "carrier", Step.DAMAGED),
        _cp(4, "carrier", Step.DELIVERED),
    ]
    found = findings(history, int(5 * DAY_MS), Thresholds(10))
    assert [(f.kind, f.custodian) for f in found] == [(ExceptionKind.DAMAGE, "fwd")]


def test_on_time_delivery_has_no_exception_and_late_one_has_delay() -> None:
    history = [_cp(0, "shop", Step.PICKED_PACKED), _cp(5, "carrier", Step.DELIVERED)]
    assert findings(history, int(50 * DAY_MS), Thresholds(4, slack_days=2)) == []
    late = findings(history, int(50 * DAY_MS), Thresholds(2, slack_days=1))
    assert [(f.kind, f.custodian) for f in late] == [(ExceptionKind.DELAY, "shop")]


def test_silence_is_suspected_loss_with_last_custodian() -> None:
    history = [_cp(0, "shop", Step.PICKED_PACKED), _cp(1, "fwd", Step.DEPARTED)]
    found = {f.kind: f for f in findings(history, int(9 * DAY_MS), Thresholds(30, 0, 7))}
    assert found[ExceptionKind.SUSPECTED_LOSS].custodian == "fwd"
    assert ExceptionKind.SUSPECTED_LOSS not in {
        f.kind for f in findings(history, int(7.5 * DAY_MS), Thresholds(30, 0, 7))
    }


def test_customs_hold_reported_once_until_released() -> None:
    history = [
        _cp(0, "fwd", Step.IMPORT_HELD),
        _cp(1, "fwd", Step.IMPORT_INSPECTED),
        _cp(2, "fwd", Step.IMPORT_RELEASED),
        _cp(3, "broker", Step.IMPORT_HELD),
    ]
    holds = [
        f
        for f in findings(history, int(3 * DAY_MS), Thresholds(30))
        if f.kind == ExceptionKind.CUSTOMS_HOLD
    ]
    assert [(f.at_ms // DAY_MS, f.custodian) for f in holds] == [(0, "fwd"), (3, "broker")]


def test_keys_live_in_the_key_directory_with_private_permissions(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "k")
    key = store.load_or_create("fwd")
    path = tmp_path / "k" / "fwd.ed25519"
    assert path.exists() and (os.stat(path).st_mode & 0o777) == 0o600
    assert store.load_or_create("fwd").public == key.public
    sig = key.sign(b"root")
    assert verify_signature(key.public, sig, b"root")
    assert not verify_signature(key.public, sig, b"rooT")
    assert not verify_signature(
        KeyStore(tmp_path / "other").load_or_create("fwd").public, sig, b"root"
    )
    with pytest.raises(ValueError):
        store.load_or_create("../escape")
