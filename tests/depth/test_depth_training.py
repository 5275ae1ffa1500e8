"""The depth presets' trainers: the stacked language-model trainer against the one-model reference, several
initializations in one stack against one stack each, bad input, and the residual trainer's reproducibility."""

from __future__ import annotations

import pytest

import initlab
from initlab.experiments.depth import train_lm, train_lm_seeds, train_residual

LM = dict(depth=2, width=8, heads=2, context=8, steps=3, batch_size=4, lr=3e-3, base_depth=2, max_chars=20_000,
          eval_batches=1)


@pytest.mark.slow
@pytest.mark.parametrize("init", ["auto", "completep"])
def test_the_stacked_lm_trainer_matches_one_model_trained_alone(init):
    stacked = train_lm_seeds(init, [0, 1], **LM)
    for seed, got in zip([0, 1], stacked):
        alone = train_lm(init, seed, **LM)
        assert got["seed"] == seed and got["init"] == init and got["depth"] == 2
        # torch.optim.Adam one model at a time vs the stacked Adam: the same steps, up to float rounding
        # (CompleteP's ε × (L/L_base)^(−1) is 1e-8 × 1 at L = L_base = 2, as the stack uses)
        assert got["val_loss"] == pytest.approx(alone["val_loss"], rel=1e-4)


@pytest.mark.slow
def test_plain_inits_share_one_stack_with_the_same_numbers():
    mixed = train_lm_seeds(["auto", "scaled_residual", "auto"], [0, 0, 1], **LM)
    apart = train_lm_seeds("auto", [0, 1], **LM) + train_lm_seeds("scaled_residual", [0], **LM)
    by_key = {(r["init"], r["seed"]): r["val_loss"] for r in apart}
    assert [(r["init"], r["seed"]) for r in mixed] == [("auto", 0), ("scaled_residual", 0), ("auto", 1)]
    for r in mixed:
        assert r["val_loss"] == pytest.approx(by_key[(r["init"], r["seed"])], rel=1e-5)
    assert mixed[0]["val_loss"] != mixed[1]["val_loss"]  # the two inits are different models


@pytest.mark.parametrize("init, seeds, allowed", [
    (["auto", "completep"], [0, 1], "one per seed (2) without depth_mup/completep"),
    (["auto"], [0, 1], "one initialization, or one per seed (2)"),
])
def test_a_stack_that_cannot_be_formed_is_one_line(init, seeds, allowed):
    with pytest.raises(initlab.InitlabError) as e:
        train_lm_seeds(init, seeds, **LM)
    assert str(e.value).startswith(f"init: got {init!r}; allowed:") and allowed in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.slow
def test_the_residual_trainer_gives_the_same_bits_for_the_same_seed():
    kw = dict(blocks=3, width=8, epochs=1, lr=0.01, batch_size=256)
    a, b = train_residual("fixup", 5, **kw), train_residual("fixup", 5, **kw)
    assert a["history"] == b["history"] and a["train_loss"] == b["train_loss"]
    assert train_residual("fixup", 6, **kw)["history"] != a["history"]
