"""Every message a page may send is checked field by field; a bad one is named in one line."""

import json

import pytest

from initlab.errors import InitlabError
from initlab.serve.protocol import MAX_MESSAGE, MAX_RUNS, error_message, parse

CFG = {"dataset": "spiral", "depth": 2, "width": 4}

BAD = [
    ("not json", "message", "a JSON object"),
    ("[1, 2]", "message", "a JSON object"),
    ("[" * 100_00 + "]" * 100_00, "message", None),
    ('{"kind": "play"}', "type", "'runs'"),
    ('{"type": "fly"}', "type", "'runs'"),
    ('{"type": "play", "extra": 1}', "extra", "none besides type"),
    ('{"type": "runs"}', "runs", f"1 to {MAX_RUNS}"),
    ('{"type": "runs", "runs": []}', "runs", f"1 to {MAX_RUNS}"),
    (json.dumps({"type": "runs", "runs": [CFG] * (MAX_RUNS + 1)}), "runs", f"1 to {MAX_RUNS}"),
    (json.dumps({"type": "runs", "runs": [CFG, {"depth": 65}]}), "runs[1].depth", "<= 64"),
    (json.dumps({"type": "runs", "runs": [{"width": 513}]}), "runs[0].width", "<= 512"),
    (json.dumps({"type": "runs", "runs": [{"batch_size": 1025}]}), "runs[0].batch_size", "<= 1024"),
    (json.dumps({"type": "runs", "runs": [{"dataset": "/etc/passwd"}]}), "runs[0].dataset", "'spiral'"),
    (json.dumps({"type": "runs", "runs": [{"scheme": "os.system"}]}), "runs[0].scheme", "initlab list"),
    (json.dumps({"type": "runs", "runs": ["spiral"]}), "runs[0]", "an object"),
    ('{"type": "step", "n": 0}', "n", ">= 1"),
    ('{"type": "step", "n": 1001}', "n", "<= 1000"),
    ('{"type": "step", "n": "5"}', "n", "an integer"),
    ('{"type": "speed", "steps_per_second": 0}', "steps_per_second", ">= 1"),
    ('{"type": "phase", "run": 3, "sigma_w2": 1, "sigma_b2": 0}', "run", "<= 0"),
    ('{"type": "phase", "run": 0, "sigma_w2": -1, "sigma_b2": 0}', "sigma_w2", "> 0"),
    ('{"type": "phase", "run": 0, "sigma_w2": 1}', "sigma_b2", "finite number"),
    ('{"type": "code", "run": -1}', "run", ">= 0"),
    (json.dumps({"type": "ping", "pad": "x" * MAX_MESSAGE}), "message", f"at most {MAX_MESSAGE} bytes"),
    (b"\x00\x01", "message", "a JSON text message"),
]


@pytest.mark.parametrize("text, field, allowed", BAD, ids=[b[1] + ":" + str(b[0])[:30] for b in BAD])
def test_bad_message_names_field_got_and_allowed(text, field, allowed):
    with pytest.raises(InitlabError) as err:
        parse(text, runs_open=1)
    assert "\n" not in str(err.value)
    msg = error_message(err.value)
    assert msg["type"] == "error" and msg["field"] == field, msg
    assert msg["got"] and msg["allowed"], msg
    if allowed:
        assert allowed in msg["allowed"], msg


def test_run_index_needs_a_run():
    for msg in ({"type": "phase", "run": 0, "sigma_w2": 1, "sigma_b2": 0}, {"type": "code", "run": 0}):
        with pytest.raises(InitlabError, match=r"^run: got 0; allowed: a run's index once a 'runs' message"):
            parse(json.dumps(msg), runs_open=0)


def test_good_messages_parse():
    cmd = parse(json.dumps({"type": "runs", "runs": [CFG, {**CFG, "scheme": "he_normal"}]}))
    assert cmd.type == "runs" and [c.scheme for c in cmd.configs] == ["auto", "he_normal"]
    assert parse('{"type": "step", "n": 7}').n == 7
    assert parse('{"type": "step"}').n == 1
    assert parse('{"type": "speed", "steps_per_second": null}').steps_per_second is None
    cmd = parse('{"type": "phase", "run": 1, "sigma_w2": 2, "sigma_b2": 0.05}', runs_open=2)
    assert (cmd.run, cmd.sigma_w2, cmd.sigma_b2) == (1, 2.0, 0.05)
    for kind in ("play", "pause", "reset", "ping"):
        assert parse(json.dumps({"type": kind})).type == kind


def test_error_message_splits_the_standard_form():
    m = error_message(InitlabError("runs[0].depth: got 100; allowed: an integer >= 1 and <= 64"))
    assert (m["field"], m["got"], m["allowed"]) == ("runs[0].depth", "100", "an integer >= 1 and <= 64")
    m = error_message("something else", run=2)
    assert m["field"] is None and m["message"] == "something else" and m["run"] == 2
