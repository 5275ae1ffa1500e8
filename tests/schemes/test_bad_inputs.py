"""Bad input to the scheme layer, as one table: the call, a fragment its one-line error must contain, and
a check that nothing changed — the target tensor keeps every bit, torch's global generator its state.

Every message has the form ``<argument>: got <value>; allowed: <what>`` on one line. The command line
(`initlab show`, `initlab list`) answers the same inputs with that line and a non-zero exit, no traceback.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import initlab
from initlab import InitlabError
from initlab.cli import main
from initlab.schemes.engine import fill_
from initlab.schemes.fans import compute_fans

FORM = re.compile(r"^[^\n:]+: got .+; allowed: [^\n]+$")


def _target(dtype=torch.float32, shape=(6, 4)) -> torch.Tensor:
    """A tensor whose every entry differs, so that any write shows."""
    n = int(np.prod(shape))
    return (torch.arange(n, dtype=torch.float64) * 0.37 - 1.0).to(dtype).reshape(shape)


def _keras(class_name, **config):
    return {"module": "keras.initializers", "class_name": class_name, "config": config, "registered_name": None}


# (id, call(target), fragment, target factory)
BAD = [
    # names and configs
    ("unknown_name", lambda t: initlab.get("he_norml")(t), "scheme: got unknown name 'he_norml'", None),
    ("ZerO_1d", lambda t: initlab.get("ZerO")(torch.empty(4)), "shape: got (4,)", None),
    ("mixed_case_clash", lambda t: initlab.get("zerO")(t), "scheme: got 'zerO'", None),
    ("identifier_int", lambda t: initlab.get(3)(t), "scheme: got 3", None),
    ("config_without_name", lambda t: initlab.get({"nam": "x"})(t), "config: got ['nam']", None),
    ("params_list", lambda t: initlab.get({"name": "he_normal", "params": [1, 2]})(t), "params: got list", None),
    ("unknown_param", lambda t: initlab.get({"name": "he_normal", "params": {"gian": 2}})(t),
     "he_normal: got unknown parameter(s) 'gian'", None),
    ("keras_custom", lambda t: initlab.get({**_keras("HeNormal"), "registered_name": "pkg>Mine"})(t),
     "registered_name: got 'pkg>Mine'", None),
    ("keras_seed_generator", lambda t: initlab.get(_keras("HeNormal", seed={"class_name": "SeedGenerator"}))(t),
     "seed: got {", None),
    ("keras_axes_float", lambda t: initlab.get(_keras("HeNormal", input_axes=[0.5], output_axes=[1]))(t),
     "input_axes: got 0.5", None),
    # scheme parameters
    ("std_negative", lambda t: initlab.random_normal(std=-1.0)(t, seed=0), "std: got -1.0", None),
    ("std_nan", lambda t: initlab.random_normal(std=float("nan"))(t), "std: got nan", None),
    ("std_string", lambda t: initlab.random_normal(std="0.1")(t), "std: got '0.1'", None),
    ("truncation_reversed", lambda t: initlab.truncated_normal(a=2.0, b=1.0)(t, seed=0), "a, b: got (2.0, 1.0)",
     None),
    ("truncation_string", lambda t: initlab.truncated_normal(a="x")(t, seed=0), "a: got 'x'", None),
    ("slope_string", lambda t: initlab.he_normal(a="x")(t), "a: got 'x'", None),
    ("sparsity", lambda t: initlab.sparse(sparsity=1.5)(t, seed=0), "sparsity: got 1.5", None),
    ("mode", lambda t: initlab.he_normal(mode="fanin")(t), "mode: got 'fanin'", None),
    ("distribution", lambda t: initlab.variance_scaling(distribution="gaussian")(t), "distribution: got 'gaussian'",
     None),
    ("dirac_groups", lambda t: initlab.dirac(groups=3)(t), "groups: got 3", lambda: _target(shape=(8, 4, 3))),
    ("dirac_groups_float", lambda t: initlab.dirac(groups=2.0)(t), "groups: got 2.0", lambda: _target(shape=(8, 4, 3))),
    ("torch_default_bias", lambda t: initlab.torch_default()(t), "shape: got (6,)", lambda: _target(shape=(6,))),
    ("torch_default_fan_in", lambda t: initlab.torch_default(fan_in=2.5)(t), "fan_in: got 2.5",
     lambda: _target(shape=(6,))),
    ("orthogonal_1d", lambda t: initlab.orthogonal()(t, seed=0), "shape: got (6,)", lambda: _target(shape=(6,))),
    ("identity_3d", lambda t: initlab.identity()(t), "shape: got (6, 4, 3)", lambda: _target(shape=(6, 4, 3))),
    ("delta_orthogonal_in_gt_out", lambda t: initlab.delta_orthogonal()(t, seed=0), "shape: got (4, 6, 3)",
     lambda: _target(shape=(4, 6, 3))),
    # call arguments
    ("seed_string", lambda t: initlab.he_normal()(t, seed="x"), "seed: got 'x'", None),
    ("seed_float", lambda t: initlab.he_normal()(t, seed=1.5), "seed: got 1.5", None),
    ("seed_and_generator", lambda t: initlab.he_normal()(t, seed=1, generator=torch.Generator()),
     "generator and seed: got both", None),
    ("numpy_generator", lambda t: initlab.he_normal()(t, generator=np.random.default_rng(0)), "generator: got Generator",
     None),
    ("key_int", lambda t: initlab.he_normal()(t, seed=1, key=3), "key: got int 3", None),
    ("layout", lambda t: initlab.he_normal()(t, layout="tf"), "layout: got 'tf'", None),
    ("groups_zero", lambda t: initlab.he_normal()(t, groups=0), "groups: got 0", None),
    ("groups_not_dividing", lambda t: initlab.he_normal()(t, groups=4), "groups: got 4", None),
    ("batch_axes_int", lambda t: initlab.he_normal()(t, batch_axes=0), "batch_axes: got int 0",
     lambda: _target(shape=(3, 6, 4))),
    ("in_axis_alone", lambda t: initlab.he_normal()(t, in_axis=0), "in_axis, out_axis: got (0, None)", None),
    ("in_axis_out_of_range", lambda t: initlab.he_normal()(t, in_axis=5, out_axis=0), "in_axis: got 5", None),
    # tensors
    ("int_tensor", lambda t: initlab.he_normal()(t, seed=0), "tensor: got torch.int64",
     lambda: torch.arange(24).reshape(6, 4)),
    ("scalar_tensor", lambda t: initlab.he_normal()(t), "shape: got ()", lambda: _target(shape=())),
    # laws the dtype cannot hold
    ("std_beyond_float32", lambda t: initlab.random_normal(std=1e300)(t, seed=0), "float32", None),
    ("uniform_beyond_float32", lambda t: initlab.random_uniform(-3e38, 3e38)(t, seed=0), "bounds: got", None),
    ("constant_beyond_float16", lambda t: initlab.constant(1e5)(t), "value: got 100000.0",
     lambda: _target(torch.float16)),
    ("constant_beyond_bfloat16", lambda t: initlab.constant(1e39)(t), "bfloat16", lambda: _target(torch.bfloat16)),
    ("bounds_hold_no_bfloat16", lambda t: initlab.random_uniform(0.1, 0.1 + 3e-8)(t, seed=0), "bounds: got",
     lambda: _target(torch.bfloat16)),
    # sizes
    ("size_float", lambda t: initlab.he_normal().distribution((2.5, 3)), "shape: got (2.5, 3)", None),
    ("size_string", lambda t: initlab.he_normal().numpy(("3", 4)), "shape: got ('3', 4)", None),
    ("fans_size_float", lambda t: compute_fans((4, 2.0)), "shape: got (4, 2.0)", None),
    # NumPy
    ("numpy_dtype_int", lambda t: initlab.he_normal().numpy((3, 3), dtype="int32"), "dtype: got dtype('int32')", None),
    ("numpy_dtype_unknown", lambda t: initlab.he_normal().numpy((3, 3), dtype="float8"), "dtype: got 'float8'", None),
    ("numpy_random_state", lambda t: initlab.he_normal().numpy((3, 3), rng=np.random.RandomState(0)),
     "rng: got RandomState", None),
    ("numpy_rng_and_seed", lambda t: initlab.he_normal().numpy((3, 3), rng=np.random.default_rng(), seed=1),
     "rng and seed: got both", None),
    ("numpy_callable", lambda t: initlab.get(lambda w: w).numpy((3, 3)), "scheme: got", None),
    # the engine directly
    ("fill_shape_mismatch", lambda t: fill_(t, initlab.he_normal().distribution((4, 6)), seed=0),
     "shape: got (6, 4)", None),
]


@pytest.mark.parametrize("call, fragment, make", [pytest.param(*row[1:], id=row[0]) for row in BAD])
def test_bad_input_is_one_line_and_changes_nothing(call, fragment, make):
    target = make() if make is not None else _target()
    before, state = target.clone(), torch.random.get_rng_state()
    with pytest.raises(InitlabError) as info:
        call(target)
    msg = str(info.value)
    assert fragment in msg, msg
    assert FORM.match(msg), f"not the standard one-line form: {msg!r}"
    assert target.dtype == before.dtype and torch.equal(target, before), "the tensor changed"
    assert torch.equal(torch.random.get_rng_state(), state), "torch's global generator advanced"


def test_the_table_covers_every_kind_of_argument():
    args = {row[2].split(":")[0] for row in BAD}
    assert {"scheme", "params", "config", "std", "a", "mode", "groups", "seed", "generator", "key", "layout",
            "tensor", "shape", "bounds", "value", "dtype", "rng"} <= args


# the command line: (arguments, fragment)
CLI = [
    (["show", "he_norml", "--shape", "4", "5"], "scheme: got unknown name 'he_norml'"),
    (["show", "he_normal", "--shape", "2.5", "3"], "shape: got [2.5, 3]"),
    (["show", "he_normal", "--shape", "x", "3"], "shape: got ['x', 3]"),
    (["show", "he_normal", "--shape", "4", "5", "--groups", "x"], "--groups: got 'x'"),
    (["show", "he_normal", "--shape", "4", "5", "--groups", "1.5"], "--groups: got 1.5"),
    (["show", "random_normal", "--shape", "4", "5", "--param", "std"], "--param: got 'std'"),
    (["show", "random_normal", "--shape", "4", "5", "--param", "std=-1"], "std: got -1"),
    (["show", "truncated_normal", "--shape", "4", "--param", "a=x"], "a: got 'x'"),
    (["show", "ZerO", "--shape", "4"], "shape: got (4,)"),
]


@pytest.mark.parametrize("argv, fragment", CLI, ids=[" ".join(a[1:3] + a[-2:]) for a, _ in CLI])
def test_cli_answers_bad_input_with_one_line(argv, fragment):
    result = CliRunner().invoke(main, argv)
    assert result.exit_code != 0
    out = result.output.strip()
    assert "Traceback" not in out and not isinstance(result.exception, InitlabError), out
    lines = [ln for ln in out.splitlines() if ln.startswith("Error: ")]
    assert len(lines) == 1 and fragment in lines[0], out
    assert FORM.match(lines[0][len("Error: "):]), lines[0]
