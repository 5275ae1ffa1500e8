"""The Keras code that reproduces a setting — for the report, which shows it beside each claim.

:func:`keras_lines` needs no Keras: it only writes text. A scheme with an exact Keras built-in
equivalent is written with Keras's own initializers (a string such as ``'glorot_uniform'`` where
Keras's string means exactly that law, else the class, e.g. initlab's untruncated ``he_normal`` as
``VarianceScaling(scale=2.0, mode='fan_in', distribution='untruncated_normal')``); any other
scheme as ``initlab.keras.get(...)``.
"""

from __future__ import annotations

from typing import Any

from ..activations import CATALOGUE, row as catalogue_row
from ..errors import check_bool, check_int, fail
from ..schemes import registry
from ..schemes.equivalents import KERAS, KERAS_VS_DISTRIBUTIONS
from ..schemes.initializers import VarianceScaling

__all__ = ["keras_lines", "keras_initializer_code", "KERAS_ACTIVATIONS"]

KERAS_ACTIVATIONS = {**{name: (r.keras[0] if r.name != "linear" else None)
                        for r in CATALOGUE if r.keras and not r.keras_params
                        for name in (r.name, *(a for a, implied in r.aliases if not implied))}, "none": None}
"""initlab's activation names → Keras's ``activation=`` strings, from the catalogue's Keras spellings
(:mod:`initlab.activations`); ``linear`` and ``none``: no ``activation=``. An activation whose Keras
function has other defaults than initlab's is left out: ``leaky_relu`` is written as a ``LeakyReLU``
layer, since Keras's string means slope 0.2 and PyTorch's default is 0.01."""

_KERAS_DIST = {ours: theirs for theirs, ours in KERAS_VS_DISTRIBUTIONS.items() if theirs != "normal"}
"""initlab's VarianceScaling distributions → Keras's spelling (Keras's ``"normal"`` is truncated)."""


def _args(kwargs: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def _variance_scaling(vs: VarianceScaling) -> str | None:
    if vs.mode not in ("fan_in", "fan_out", "fan_avg"):
        return None  # Keras has no fan_geo_avg
    dist = _KERAS_DIST[vs.distribution_ if vs.distribution_ != "untruncated_normal" else "normal"]
    scale = float(f"{float(vs.scale):.12g}")  # gain² written as Keras users write it: 2.0, not 2.0000000000000004
    return f"keras.initializers.VarianceScaling({_args({'scale': scale, 'mode': vs.mode, 'distribution': dist})})"


def keras_initializer_code(scheme: Any) -> str:
    """Python code for a Keras initializer that draws ``scheme``'s law.

    >>> keras_initializer_code("glorot_uniform")
    "'glorot_uniform'"
    >>> keras_initializer_code("he_normal")
    "keras.initializers.VarianceScaling(scale=2.0, mode='fan_in', distribution='untruncated_normal')"
    >>> keras_initializer_code({"name": "random_normal", "params": {"std": 0.01}})
    'keras.initializers.RandomNormal(mean=0.0, stddev=0.01)'
    """
    s = registry.get(scheme)
    for e in KERAS:  # Keras's strings, where one means exactly this law
        if e.strings and not e.kwargs and e.initlab() == s:
            return repr(e.strings[0])
    p = s.params()
    name = s.name
    if name in ("zeros", "ones"):
        return repr(name)
    if name == "constant":
        return f"keras.initializers.Constant({_args({'value': float(p['value'])})})"
    if name == "random_normal":
        return f"keras.initializers.RandomNormal({_args({'mean': float(p['mean']), 'stddev': float(p['std'])})})"
    if name == "random_uniform":
        return f"keras.initializers.RandomUniform({_args({'minval': float(p['minval']), 'maxval': float(p['maxval'])})})"
    if name == "truncated_normal" and (p["a"], p["b"]) == (-2.0, 2.0):
        return f"keras.initializers.TruncatedNormal({_args({'mean': float(p['mean']), 'stddev': float(p['std'])})})"
    if name in ("orthogonal", "identity"):
        return f"keras.initializers.{name.capitalize()}({_args({'gain': float(p['gain'])})})"
    vs = s if isinstance(s, VarianceScaling) else s.core() if hasattr(s, "core") else None
    code = _variance_scaling(vs) if vs is not None else None
    if code is not None:
        return code
    return f"initlab.keras.get({s.to_config()!r})"


def keras_lines(activation: str, depth: int, width: int, scheme: Any, scheme_params: dict | None = None, *,
                inputs: int = 64, classes: int = 10, bias: Any = "zeros", head: bool = False) -> str:
    """The Keras lines that build the MLP of a claim's setting: ``depth`` hidden Dense layers of
    ``width`` units with ``activation``, their kernels drawn from ``scheme`` (a name, config or
    initlab ``Initializer``; ``scheme_params`` as in a sweep), then a softmax Dense head over
    ``classes`` (the explainers' ``Dense(10, activation='softmax')``), on ``inputs`` features.
    ``head=True`` draws the head's kernel and bias from ``scheme`` and ``bias`` too, as
    :func:`initlab.initialize` does for every layer of a model (else Keras's defaults).

    >>> print(keras_lines("relu", 2, 64, "he_uniform"))
    import keras
    <BLANKLINE>
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(64, activation='relu', kernel_initializer='he_uniform', bias_initializer='zeros'),
        keras.layers.Dense(64, activation='relu', kernel_initializer='he_uniform', bias_initializer='zeros'),
        keras.layers.Dense(10, activation='softmax'),
    ])
    """
    depth = check_int("depth", depth, minimum=0)
    width = check_int("width", width, minimum=1)
    inputs = check_int("inputs", inputs, minimum=1)
    classes = check_int("classes", classes, minimum=1)
    act = str(activation).lower()
    if act not in KERAS_ACTIVATIONS and act != "leaky_relu":
        raise fail("activation", activation, ", ".join(map(repr, [*KERAS_ACTIVATIONS, "leaky_relu"])))
    if scheme_params:
        scheme = {"name": scheme, "params": dict(scheme_params)}
    kernel = keras_initializer_code(scheme)
    keras_act = KERAS_ACTIVATIONS.get(act)
    act_arg = f", activation={keras_act!r}" if keras_act else ""
    slope = catalogue_row("leaky_relu").defaults()["negative_slope"]
    extra = [f"keras.layers.LeakyReLU(negative_slope={slope!r})"] if act == "leaky_relu" else []
    head_init = check_bool("head", head)
    bias_of = _bias_code(bias)

    def hidden(fan_in):
        return f"keras.layers.Dense({width}{act_arg}, kernel_initializer={kernel}, bias_initializer={bias_of(fan_in)})"

    head = (f"keras.layers.Dense({classes}, activation='softmax'" +
            (f", kernel_initializer={kernel}, bias_initializer={bias_of(width if depth else inputs)})" if head_init
             else ")"))
    code = [hidden(inputs), hidden(width), head]
    imports = "import keras" + ("\nimport initlab.keras" if any("initlab.keras" in c for c in code) else "")
    if depth <= 4:
        body = "".join(f"    {line},\n" for k in range(depth) for line in (hidden(inputs if k == 0 else width), *extra))
        return f"{imports}\n\nmodel = keras.Sequential([\n    keras.Input(({inputs},)),\n{body}    {head},\n])"
    # the layers collected in a list, then one Sequential: model.add would rebuild the model at every layer
    first = ""
    if hidden(inputs) != hidden(width):  # a bias whose law depends on the layer's fan_in: the first layer apart
        first, depth = "".join(f"layers.append({line})\n" for line in (hidden(inputs), *extra)), depth - 1
    body = "".join(f"    layers.append({line})\n" for line in (hidden(width), *extra))
    return (f"{imports}\n\nlayers = [keras.Input(({inputs},))]\n{first}for _ in range({depth}):\n{body}"
            f"layers.append({head})\nmodel = keras.Sequential(layers)")


def _bias_code(bias: Any):
    """fan_in → the Keras code of the bias initializer: PyTorch's default bias U(±1/√fan_in) needs the
    fan_in of its layer's kernel, which a Keras bias initializer does not see (it gets the bias's shape)."""
    s = registry.get(bias)
    if s.name == "torch_default" and s.params().get("fan_in") is None:
        return lambda fan_in: keras_initializer_code({"name": "torch_default", "params": {"fan_in": fan_in}})
    code = keras_initializer_code(s)
    return lambda fan_in: code
