"""The playground's residual switch: a residual MLP, the recipes for it, the stream in every frame, and the script."""

from __future__ import annotations

import contextlib
import io

import pytest

import initlab
from initlab._threads import torch_threads
from initlab.experiments.live import LIVE_RECIPES, LiveConfig, LiveSession, scheme_catalogue


def test_a_residual_run_measures_the_stream_and_names_its_layers():
    s = LiveSession({"dataset": "digits", "depth": 6, "width": 32, "activation": "relu", "scheme": "he_normal",
                     "residual": True})
    frame = s.step(0)
    names = [layer["name"] for layer in frame["layers"]]
    assert names[:3] == ["stem", "block 1·1", "block 1·2"] and names[-1] == "output" and len(names) == 14
    assert [e["block"] for e in frame["stream"]] == list(range(7))
    stds = [e["std"] for e in frame["stream"]]
    assert stds[-1] > 10 * stds[0]  # He on every layer: the stream grows block after block
    assert all(0.3 < e["std"] / e["pred_std"] < 3 for e in frame["stream"])
    kinds = {f["kind"]: f for f in frame["findings"]}
    assert kinds["residual"]["apply"] == {"scheme": "skipinit", "scheme_params": {}}


def test_a_recipe_keeps_the_stream_flat_and_is_refused_without_residual():
    s = LiveSession({"dataset": "digits", "depth": 6, "width": 32, "scheme": "rezero", "residual": True})
    stream = s.step(0)["stream"]
    assert len({e["std"] for e in stream}) == 1  # α = 0: every block is the identity at init
    with pytest.raises(initlab.InitlabError) as e:
        LiveConfig.from_dict({"scheme": "fixup"})
    assert str(e.value).startswith("scheme: got 'fixup'; allowed: a recipe for residual networks only with "
                                   "residual=true") and "\n" not in str(e.value)
    with pytest.raises(initlab.InitlabError, match=r"^residual: got 'yes'; allowed"):
        LiveConfig.from_dict({"residual": "yes"})


def test_the_catalogue_offers_the_recipes_for_residual_runs():
    rows = {r["name"]: r for r in scheme_catalogue()}
    assert all(rows[n].get("residual") for n in LIVE_RECIPES)
    assert rows["fixup"]["formula"].startswith("branch layers: base × L^(−1/(2m−2))")
    assert not rows["he_normal"].get("residual")


def test_the_script_of_a_residual_run_reproduces_its_first_loss():
    cfg = {"dataset": "digits", "depth": 4, "width": 16, "scheme": "fixup", "residual": True, "lr": 0.01,
           "batch_size": 256}
    s = LiveSession(cfg)
    s.train(1)
    script = s.config.to_script(epochs=1)
    assert "residual_mlp(" in script
    out = io.StringIO()
    with contextlib.redirect_stdout(out), torch_threads(1):
        exec(compile(script, "<playground script>", "exec"), {"__name__": "__main__"})  # noqa: S102 - our own script
    assert out.getvalue().splitlines()[0] == f"first-step loss {s.first_loss:.6f}"
