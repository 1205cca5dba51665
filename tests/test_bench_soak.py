"""`parrot bench soak` runs random keys through the whole simulated appliance and reports."""
from __future__ import annotations

import logging

from parrot.cli import main


def test_soak_with_the_echo_engine_reports_no_exceptions(capsys):
    assert main(["bench", "soak", "--backend", "echo", "--keys", "400", "--warmup", "100", "--block", "100"]) == 0
    out = capsys.readouterr().out
    assert "soak: 400 keys (echo: echo)" in out and "exceptions: 0" in out
    assert "growth after warm-up" in out and "result: PASS (0 exceptions, growth" in out


def test_growth_over_the_limit_fails_the_run_and_says_so(capsys, monkeypatch):
    from parrot.bench import soak

    samples = iter([40.0, 41.0, 47.5])  # after boot, after the warm-up, at the end
    monkeypatch.setattr(soak, "rss_mb", lambda: next(samples))
    assert main(["bench", "soak", "--backend", "echo", "--keys", "200", "--warmup", "100", "--block", "100"]) == 1
    out = capsys.readouterr().out
    assert "growth after warm-up +6.5 MB (limit 5)" in out and "result: FAIL (growth +6.5 MB is not under the 5 MB limit)" in out


def test_an_exception_in_the_app_is_counted_and_fails_the_run(capsys, monkeypatch):
    from parrot.app import runtime

    real_step = runtime.Runtime.step
    calls = {"n": 0}

    def step_with_a_logged_error(self, now):
        calls["n"] += 1
        if calls["n"] == 500:
            logging.getLogger("parrot.app.runtime").error("boom in a worker")
        return real_step(self, now)

    monkeypatch.setattr(runtime.Runtime, "step", step_with_a_logged_error)
    assert main(["bench", "soak", "--backend", "echo", "--keys", "100", "--warmup", "50", "--block", "50"]) == 1
    out = capsys.readouterr().out
    assert "exceptions: 1" in out and "boom in a worker" in out and "result: FAIL (1 exceptions" in out
