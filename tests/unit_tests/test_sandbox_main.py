"""``python -m confluence_agent.sandbox`` takes the options of ``sandbox serve``."""

from __future__ import annotations

import pytest

from confluence_agent.sandbox import __main__ as module
from confluence_agent.sandbox.gateway import FaultConfig


def test_options_reach_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[object, ...]] = []
    monkeypatch.setattr(module, "serve", lambda *args: calls.append(args))
    module.main(
        ["--port", "0", "--seed", "synthetic:5", "--rate-limit", "2", "--faults", "p503=0.5,seed=3"]
    )
    assert calls == [(0, ":memory:", "synthetic:5", 2.0, None, FaultConfig(p503=0.5, seed=3))]


def test_bad_fault_spec_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(module, "serve", lambda *args: pytest.fail("must not start"))
    with pytest.raises(SystemExit) as info:
        module.main(["--faults", "p429=2"])
    assert info.value.code == 2
    assert "--faults: p429 must be within 0..1" in capsys.readouterr().err
