"""initlab.experiments.live on its own: configs checked field by field, sessions that reproduce,
and every number of a summary set against a value computed here independently."""

import base64
import json
import math
import threading

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import initlab
from initlab.errors import InitlabError
from initlab.experiments import load
from initlab.experiments.live import (LIMITS, LIVE_ACTIVATIONS, LiveConfig, LiveSession, claims, live_data,
                                      phase_point, scheme_catalogue)

ACT = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "linear": nn.Identity, "selu": nn.SELU,
       "gelu": nn.GELU, "silu": nn.SiLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "softplus": nn.Softplus}


def reference_model(cfg: LiveConfig, data) -> nn.Sequential:
    """The run's network built the plain way and initialized by initlab.initialize."""
    layers = [nn.Flatten()]
    fan_in = int(np.prod(data.input_shape))
    for _ in range(cfg.depth):
        layers += [nn.Linear(fan_in, cfg.width), ACT[cfg.activation]()]
        fan_in = cfg.width
    layers.append(nn.Linear(fan_in, data.num_classes))
    model = nn.Sequential(*layers)
    scheme, bias = cfg.init_args()
    initlab.initialize(model, scheme, bias=bias, seed=cfg.seed)
    return model


def first_batch(cfg: LiveConfig, n: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed))[:cfg.batch_size]


# ------------------------------------------------------------------------------------ config

BAD = [
    ({"depth": 65}, "depth", "65"),
    ({"depth": 0}, "depth", "0"),
    ({"depth": 2.5}, "depth", "2.5"),
    ({"width": 1}, "width", "1"),
    ({"width": 513}, "width", "513"),
    ({"batch_size": 1025}, "batch_size", "1025"),
    ({"batch_size": 0}, "batch_size", "0"),
    ({"seed": -1}, "seed", "-1"),
    ({"seed": True}, "seed", "True"),
    ({"dataset": "mnist"}, "dataset", "'mnist'"),
    ({"activation": "sine"}, "activation", "'sine'"),
    ({"optimizer": "rmsprop"}, "optimizer", "'rmsprop'"),
    ({"lr": 0}, "lr", "0"),
    ({"lr": float("nan")}, "lr", "nan"),
    ({"lr": "0.1"}, "lr", "'0.1'"),
    ({"momentum": 1.0}, "momentum", "1.0"),
    ({"noise": -0.1}, "noise", "-0.1"),
    ({"noise": 0.1, "dataset": "digits"}, "noise", "0.1"),
    ({"train_ratio": 0.95}, "train_ratio", "0.95"),
    ({"scheme": "nope"}, "scheme", "'nope'"),
    ({"scheme": 3}, "scheme", "3"),
    ({"scheme": "random_normal", "scheme_params": {"stdd": 1}}, "scheme_params", None),
    ({"scheme": "random_normal", "scheme_params": []}, "scheme_params", None),
    ({"scheme": "auto", "scheme_params": {"std": 1}}, "scheme_params", None),
    ({"bias": "lsuv"}, "bias", "'lsuv'"),
    ({"unknown": 1}, "unknown", "1"),
]


@pytest.mark.parametrize("change, field, got", BAD, ids=[f"{b[1]}={b[0]}" for b in BAD])
def test_bad_config_names_the_field(change, field, got):
    with pytest.raises(InitlabError) as err:
        LiveConfig.from_dict({**LiveConfig().to_dict(), **change}, prefix="runs[1].")
    text = str(err.value)
    assert text.startswith(f"runs[1].{field}: "), text
    assert "allowed:" in text, text
    if got is not None:
        assert text.startswith(f"runs[1].{field}: got {got}"), text


def test_limits_are_the_documented_ones():
    assert LIMITS["depth"] == (1, 64) and LIMITS["width"] == (2, 512) and LIMITS["batch_size"] == (1, 1024)
    assert LiveConfig.from_dict({"depth": 64, "width": 512, "batch_size": 1024}).depth == 64
    assert set(LIVE_ACTIVATIONS) >= {"relu", "leaky_relu", "tanh", "sigmoid", "selu", "gelu", "silu", "linear"}


def test_every_registry_scheme_is_offered_with_its_parameters():
    names = {r["name"]: r["params"] for r in scheme_catalogue()}
    for row in initlab.list_schemes():
        assert names[row["name"]] == row["params"]
    assert "auto" in names and "lsuv" in names


def test_aliases_normalize_and_defaults_fill():
    cfg = LiveConfig.from_dict({"scheme": "kaiming_normal", "activation": "ReLU"})
    assert cfg.scheme == "he_normal" and cfg.activation == "relu" and cfg.batch_size == LiveConfig().batch_size
    assert LiveConfig.from_dict({"dataset": "digits", "train_ratio": 0.3}).train_ratio == 0.5  # fixed split


# ------------------------------------------------------------------------------------ reproducing

def test_same_config_same_weights_new_seed_other_weights():
    cfg = {"dataset": "circle", "depth": 3, "width": 16, "activation": "relu", "scheme": "he_uniform", "seed": 4}
    a, b, c = LiveSession(cfg), LiveSession(cfg), LiveSession({**cfg, "seed": 5})
    for (na, pa), (_, pb), (_, pc) in zip(a.model.named_parameters(), b.model.named_parameters(),
                                           c.model.named_parameters()):
        assert torch.equal(pa, pb), na
        if pa.dim() == 2:
            assert not torch.equal(pa, pc), na
    a.train(7), b.train(7), c.train(7)
    assert a.first_loss == b.first_loss != c.first_loss
    assert a.last_loss == b.last_loss
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))


@pytest.mark.parametrize("spec", [
    {"dataset": "spiral", "depth": 4, "width": 8, "activation": "tanh", "scheme": "glorot_normal", "seed": 3},
    {"dataset": "digits", "depth": 3, "width": 32, "activation": "relu", "scheme": "he_normal", "bias": "constant",
     "bias_params": {"value": 0.1}, "optimizer": "adam", "lr": 0.001, "batch_size": 17, "seed": 1},
    {"dataset": "xor", "depth": 2, "width": 6, "activation": "selu", "scheme": "auto", "train_ratio": 0.3,
     "noise": 0.2, "batch_size": 50},
])
def test_first_steps_match_an_independent_training_loop(spec):
    """The first-step loss is the cross-entropy of the first minibatch (torch.randperm from the seed) under
    the weights initialize() draws for the plain model; the next losses follow torch.optim's updates."""
    cfg = LiveConfig.from_dict(spec)
    data = load(cfg.dataset, **cfg.data_args())
    x, y = data.x_train.float(), data.y_train.long()
    model = reference_model(cfg, data)
    session = LiveSession(cfg)
    for (name, p), q in zip(model.named_parameters(), session.model.parameters()):
        assert torch.equal(p, q), name
    params = list(model.parameters())
    state = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    gen = torch.Generator().manual_seed(cfg.seed)
    perm = torch.randperm(len(y), generator=gen)
    losses = []
    b1, b2, eps = cfg.momentum, 0.999, 1e-8
    for t in range(1, 4):
        idx = perm[(t - 1) * cfg.batch_size:t * cfg.batch_size]
        loss = F.cross_entropy(model(x[idx]), y[idx])
        losses.append(loss.item())
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g, (m, v) in zip(params, grads, state):
                if cfg.optimizer == "sgd":  # b ← μb + g, θ ← θ − ηb
                    m.mul_(b1).add_(g)
                    p.sub_(cfg.lr * m)
                else:  # Kingma & Ba 2015, with torch's placement of ε
                    m.mul_(b1).add_((1 - b1) * g)
                    v.mul_(b2).add_((1 - b2) * g * g)
                    p.sub_(cfg.lr / (1 - b1 ** t) * m / (v.sqrt() / math.sqrt(1 - b2 ** t) + eps))
    session.train(1)
    assert session.first_loss == losses[0]
    session.train(2)
    assert session.last_loss == pytest.approx(losses[2], rel=1e-5)


def test_epochs_follow_the_trainer_order():
    cfg = LiveConfig.from_dict({"dataset": "gaussians", "depth": 1, "width": 4, "batch_size": 100, "train_ratio": 0.3})
    s = LiveSession(cfg)
    s.train(2)
    assert s.epochs == 0
    s.train(1)  # 300 training points: 3 minibatches make an epoch
    assert s.epochs == 1 and s.steps == 3


@pytest.mark.parametrize("threads", [1, 2])
def test_same_losses_on_1_and_2_threads_in_a_worker_thread(threads):
    """A session left at the caller's thread count, driven from another thread, gives the losses of the
    default one-thread session; and the default restores the caller's count."""
    cfg = {"dataset": "digits", "depth": 3, "width": 64, "activation": "relu", "scheme": "he_normal", "seed": 2}
    ref = LiveSession(cfg)
    ref.train(5)
    out = {}

    def work():
        torch.set_num_threads(threads)
        s = LiveSession(cfg, threads=None)  # the caller's thread count
        s.train(5)
        out["first"], out["last"] = s.first_loss, s.last_loss
        out["frame"] = s.summary()

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert out["first"] == ref.first_loss
    assert out["last"] == pytest.approx(ref.last_loss, rel=1e-6)
    assert out["frame"]["step"] == 5
    before = torch.get_num_threads()
    LiveSession(cfg, threads=2).train(1)
    assert torch.get_num_threads() == before


# ------------------------------------------------------------------------------------ measurements

def _manual_pass(model: nn.Sequential, x, y):
    """Each weight layer's pre-activation h (with its gradient) and the output that follows it."""
    pre, post = [], []
    h = x
    mods = list(model)
    for i, m in enumerate(mods):
        h = m(h)
        if isinstance(m, nn.Linear):
            h.retain_grad()
            pre.append(h)
            nxt = mods[i + 1] if i + 1 < len(mods) else None
            if nxt is None or isinstance(nxt, (nn.Linear, nn.Identity)):
                post.append(h)
        elif isinstance(m, (nn.Tanh, nn.ReLU, nn.Sigmoid, nn.SELU, nn.GELU, nn.SiLU, nn.LeakyReLU, nn.ELU, nn.Softplus)):
            post.append(h)
    loss = F.cross_entropy(h, y)
    loss.backward()
    return pre, post, loss.item(), h.detach()


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_layer_statistics_and_histograms_match_a_manual_pass(act):
    cfg = LiveConfig.from_dict({"dataset": "spiral", "depth": 3, "width": 16, "activation": act,
                                "scheme": "glorot_uniform", "seed": 7})
    s = LiveSession(cfg, bins=20)
    s.train(5)
    frame = s.summary()
    model = reference_model(cfg, s.data)
    model.load_state_dict(s.model.state_dict())
    pre, post, loss, logits = _manual_pass(model, s.x_probe, s.y_probe)
    assert frame["train"]["loss"] == pytest.approx(loss, rel=1e-5)
    assert frame["train"]["acc"] == pytest.approx(float((logits.argmax(1) == s.y_probe).float().mean()), rel=1e-5)
    layers = frame["layers"]
    assert [l["hidden"] for l in layers] == [True] * 3 + [False]
    for k, (h, o) in enumerate(zip(pre, post)):
        assert layers[k]["act_std"] == pytest.approx(o.detach().double().std(unbiased=False).item(), rel=1e-4)
        assert layers[k]["grad_std"] == pytest.approx(h.grad.double().std(unbiased=False).item(), rel=1e-4)
        for kind, t in (("act", o.detach()), ("grad", h.grad), ("weight", [m for m in model if isinstance(m, nn.Linear)][k].weight.detach())):
            hist = frame["hist"][k][kind]
            v = t.double().reshape(-1).numpy()
            assert sum(hist["counts"]) == v.size and hist["nonfinite"] == 0
            assert hist["lo"] == pytest.approx(v.min(), rel=1e-6, abs=1e-12)
            assert hist["hi"] == pytest.approx(v.max(), rel=1e-6, abs=1e-12)
            ref, _ = np.histogram(v, bins=20, range=(v.min(), v.max()))
            # float32 binning may move a value lying on a bin edge to the neighbouring bin
            assert np.abs(np.array(hist["counts"]) - ref).sum() <= 2, (kind, hist["counts"], ref.tolist())
    if act == "relu":
        for k, o in enumerate(post[:-1]):
            dead = float(((o.detach() == 0).all(dim=0)).double().mean())
            assert layers[k]["frac_dead"] == pytest.approx(dead, abs=1e-12)
            assert layers[k]["frac_saturated"] is None
    else:
        for k, o in enumerate(post[:-1]):
            assert layers[k]["frac_saturated"] == pytest.approx(float((o.detach().abs() > 0.99).double().mean()),
                                                                abs=1e-12)
    assert json.dumps(frame, allow_nan=False)


def test_theory_is_the_relu_recursion_of_the_actual_weights():
    """For ReLU and zero biases: q₁ = σ²_w,1·m₀, q_{l+1} = σ²_w,l+1·q_l/2 with σ²_w = fan_in·mean(W²);
    the output std after ReLU is √(q(½ − 1/(2π))); gradient variances shrink by ½·fan_out·mean(W²) a layer."""
    cfg = LiveConfig.from_dict({"dataset": "digits", "depth": 5, "width": 128, "activation": "relu",
                                "scheme": "he_normal", "seed": 0})
    s = LiveSession(cfg)
    frame = s.summary()
    lin = [m for m in s.model if isinstance(m, nn.Linear)]
    m0 = float(s.x_probe.double().square().mean())
    w2 = [m.in_features * float(m.weight.detach().double().square().mean()) for m in lin]
    q = [w2[0] * m0]
    for k in range(1, len(lin)):
        q.append(w2[k] * q[-1] / 2)
    layers = frame["layers"]
    for k in range(cfg.depth):
        assert layers[k]["pred_act_std"] == pytest.approx(math.sqrt(q[k] * (0.5 - 1 / (2 * math.pi))), rel=1e-5)
    assert layers[-1]["pred_act_std"] == pytest.approx(math.sqrt(q[-1]), rel=1e-5)
    g = [1.0] * len(lin)
    for k in range(len(lin) - 2, -1, -1):
        g[k] = g[k + 1] * 0.5 * lin[k + 1].out_features * float(lin[k + 1].weight.detach().double().square().mean())
    ref = layers[-1]["grad_std"]
    for k in range(len(lin)):
        assert layers[k]["pred_grad_std"] == pytest.approx(ref * math.sqrt(g[k]), rel=1e-5)


def test_outputs_on_the_test_set_and_the_plane():
    cfg = LiveConfig.from_dict({"dataset": "circle", "depth": 3, "width": 8, "activation": "tanh",
                                "scheme": "glorot_normal", "seed": 1})
    s = LiveSession(cfg, neuron_grid=12, neuron_units=5)
    s.train(30)
    frame = s.summary()
    with torch.no_grad():
        logits = s.model(s.data.x_test.float())
    assert frame["test"]["loss"] == pytest.approx(F.cross_entropy(logits, s.data.y_test).item(), rel=1e-5)
    assert frame["test"]["acc"] == pytest.approx(float((logits.argmax(1) == s.data.y_test).double().mean()))
    # the decision boundary: p(class 1) on an n×n grid over [−e, e]², row 0 at the top
    b = frame["boundary"]
    n, e = b["size"], b["extent"]
    p = np.frombuffer(base64.b64decode(b["p1"]), dtype=np.uint8).reshape(n, n)
    for i, j in ((0, 0), (n - 1, 0), (n // 2, n // 3), (n - 1, n - 1)):
        point = torch.tensor([[-e + 2 * e * j / (n - 1), e - 2 * e * i / (n - 1)]], dtype=torch.float32)
        with torch.no_grad():
            prob = torch.softmax(s.model(point).double(), 1)[0, 1].item()
        assert abs(p[i, j] / 255 - prob) <= 0.6 / 255 + 1e-6
    # the neurons: each shown layer's first units, scaled per layer by its largest |output| into int8
    nr = frame["neurons"]
    assert nr["layers"] == [1, 2, 3] and nr["units"] == 5
    tiles = np.frombuffer(base64.b64decode(nr["values"]), dtype=np.int8).reshape(3, 5, 12 * 12)
    xs = torch.linspace(-e, e, 12)
    grid = torch.stack([xs.repeat(12), torch.linspace(e, -e, 12).repeat_interleave(12)], 1)
    h = grid
    outs = []
    with torch.no_grad():
        for m in s.model:
            h = m(h)
            if isinstance(m, nn.Tanh):
                outs.append(h[:, :5].double())
    for k, o in enumerate(outs):
        ref = np.round(127 * o.numpy() / np.abs(o.numpy()).max()).T
        assert np.abs(tiles[k].astype(int) - ref).max() <= 1
        assert nr["scales"][k] == pytest.approx(np.abs(o.numpy()).max(), rel=1e-5)
    assert "confusion" not in frame


def test_confusion_matrix_for_ten_classes():
    s = LiveSession({"dataset": "mnist1d", "depth": 2, "width": 32, "activation": "relu", "scheme": "he_normal"})
    s.train(20)
    frame = s.summary()
    conf = np.array(frame["confusion"])
    with torch.no_grad():
        pred = s.model(s.x_test).argmax(1).numpy()
    y = s.y_test.numpy()
    ref = np.zeros((10, 10), dtype=int)
    np.add.at(ref, (y, pred), 1)
    assert (conf == ref).all() and conf.sum() == len(y)
    assert "boundary" not in frame


def test_zeros_keep_one_distinct_unit_per_layer_and_the_finding_offers_a_fix():
    zeros = LiveSession({"dataset": "digits", "depth": 3, "width": 16, "activation": "relu", "scheme": "zeros",
                         "lr": 0.05})
    he = LiveSession({"dataset": "digits", "depth": 3, "width": 16, "activation": "relu", "scheme": "he_normal"})
    fz, fh = zeros.step(25), he.step(25)
    assert [l["distinct_units"] for l in fz["layers"] if l["hidden"]] == [1, 1, 1]
    assert [l["distinct_units"] for l in fh["layers"] if l["hidden"]] == [16, 16, 16]
    sym = [f for f in fz["findings"] if f["kind"] == "symmetric"]
    assert sym and sym[0]["apply"] == {"scheme": "he_normal", "scheme_params": {}}
    assert all(name.startswith("layer") or name == "output" for name in sym[0]["layers"])
    assert "'" not in sym[0]["message"]  # module names are replaced by "layer k"
    assert not [f for f in fh["findings"] if f["kind"] == "symmetric"]


def test_vanishing_finding_applies_the_scheme_for_the_activation():
    s = LiveSession({"dataset": "digits", "depth": 10, "width": 64, "activation": "tanh", "scheme": "random_normal",
                     "scheme_params": {"std": 0.01}})
    kinds = {f["kind"]: f for f in s.summary()["findings"]}
    assert "vanishing" in kinds and kinds["vanishing"]["apply"]["scheme"] == "glorot_normal"
    fixed = LiveSession(s.config.replace(**kinds["vanishing"]["apply"]))
    assert "vanishing" not in {f["kind"] for f in fixed.summary()["findings"]}


def test_a_finding_whose_fix_is_already_the_init_offers_nothing_to_apply():
    """auto gives tanh layers glorot_normal: a saturation that training brings names that same scheme."""
    from initlab.diagnostics import Finding
    from initlab.experiments.live import _finding, _planned_schemes

    s = LiveSession({"dataset": "spiral", "depth": 2, "width": 8, "activation": "tanh", "scheme": "auto"})
    planned = _planned_schemes(s.model, s.config)
    assert list(planned.values()) == [("glorot_normal", {"gain": 1.0})] * 3
    f = Finding("saturated", ("2",), {}, {"1": "glorot_normal", "3": "glorot_normal", "5": "glorot_normal"}, "at '2'")
    d = _finding(f, s._names, planned)
    assert d["apply"] is None and d["in_place"] and d["message"] == "at layer 1"
    other = _finding(Finding("saturated", ("2",), {}, {"1": "he_normal", "3": "he_normal", "5": "glorot_normal"}, ""),
                     s._names, planned)
    assert other["apply"] == {"scheme": "he_normal", "scheme_params": {}} and not other["in_place"]


def test_divergence_is_caught_and_the_frame_stays_json():
    s = LiveSession({"dataset": "digits", "depth": 10, "width": 64, "activation": "relu", "scheme": "random_normal",
                     "scheme_params": {"std": 1.0}, "lr": 1.0})
    taken = s.train(50)
    assert s.diverged and taken < 50
    frame = s.summary()
    assert frame["diverged"] is True
    json.dumps(frame, allow_nan=False)


def test_phase_point_and_the_phase_config():
    cfg = LiveConfig.from_dict({"dataset": "spiral", "depth": 4, "width": 256, "activation": "tanh"})
    point = cfg.with_phase_point(1.7, 0.04)
    assert point.scheme == "variance_scaling" and point.scheme_params["scale"] == 1.7
    assert point.bias == "random_normal" and point.bias_params["std"] == pytest.approx(0.2)
    s = LiveSession(point)
    lin = [m for m in s.model if isinstance(m, nn.Linear)][:-1]
    ref_w2 = np.mean([m.in_features * m.weight.double().square().mean().item() for m in lin])
    ref_b2 = np.mean([m.bias.double().square().mean().item() for m in lin])
    got = phase_point(s.model)
    assert got["sigma_w2"] == pytest.approx(ref_w2, rel=1e-5) and got["sigma_b2"] == pytest.approx(ref_b2, rel=1e-5)
    from stats import assert_normal

    hidden = lin[1].weight.detach()  # fan_in 256: N(0, 1.7/256)
    assert_normal(hidden, 0.0, math.sqrt(1.7 / 256))
    assert_normal(torch.cat([m.bias.detach() for m in lin]), 0.0, 0.2)
    assert cfg.with_phase_point(2.0, 0).bias == "zeros"
    with pytest.raises(InitlabError, match="sigma_w2: got 0"):
        cfg.with_phase_point(0, 0.1)


def test_phase_diagram_marks_the_edge_of_chaos():
    from initlab.experiments.live import phase_diagram_for

    d = phase_diagram_for("relu")
    # ReLU at σ_b = 0: χ₁ = σ_w²·E[φ'²] = σ_w²/2 at any q, so the edge of chaos is σ_w² = 2
    assert d["sigma_b2"][0] == 0 and d["critical_sigma_w2"][0] == pytest.approx(2.0, rel=1e-6)
    for j in (5, 20, len(d["sigma_w2"]) - 1):
        assert 10 ** d["log10_chi1"][0][j] == pytest.approx(d["sigma_w2"][j] / 2, rel=1e-3)
    t = phase_diagram_for("tanh")
    # tanh at σ_b = 0: q* = 0 below σ_w² = 1, where χ₁ = σ_w²·φ'(0)² = σ_w²
    assert t["critical_sigma_w2"][0] == pytest.approx(1.0, rel=1e-6)
    assert 10 ** t["log10_chi1"][0][0] == pytest.approx(t["sigma_w2"][0], rel=1e-3)


def test_lsuv_scheme_gives_unit_output_variance():
    s = LiveSession({"dataset": "digits", "depth": 6, "width": 64, "activation": "tanh", "scheme": "lsuv"})
    with torch.no_grad():
        h = s.x_probe
        for m in s.model:
            h = m(h)
            if isinstance(m, nn.Linear) and m is not s.linears[-1]:
                assert h.var().item() == pytest.approx(1.0, abs=0.15)


def test_claims_come_from_the_preset_registry(monkeypatch):
    from initlab.experiments import presets

    names = [c["name"] for c in claims()]
    assert names == list(presets.PRESETS)
    for c in claims():
        assert 1 <= len(c["runs"]) <= 4
        for run in c["runs"]:
            LiveConfig.from_dict(run)
    he = next(c for c in claims() if c["name"] == "xavier-vs-he")
    assert [r["scheme"] for r in he["runs"]] == ["he_normal", "lecun_normal"] and he["runs"][0]["depth"] == 30
    from initlab.experiments.claim import Source

    fake = presets.Preset(name="new-claim", title="A new claim", claim="a claim added later", explanation="",
                          source=Source("", ""), budgets={"quick": {"depth": 7, "width": 24, "std": 0.1, "lr": 0.05}},
                          measure=lambda b, s: [], judge=lambda rows, b: [], compare=lambda rows, b: [])
    monkeypatch.setitem(presets.PRESETS, "new-claim", fake)
    new = next(c for c in claims() if c["name"] == "new-claim")
    assert new["claim"] == "a claim added later"
    assert new["runs"][0]["depth"] == 7 and new["runs"][0]["width"] == 24
    assert new["runs"][0]["scheme"] == "random_normal" and new["runs"][0]["scheme_params"] == {"std": 0.1}


def test_data_are_shared_and_seed_independent():
    a = LiveConfig.from_dict({"dataset": "spiral", "seed": 1})
    b = LiveConfig.from_dict({"dataset": "spiral", "seed": 9, "scheme": "he_normal"})
    assert live_data(a) is live_data(b)
    d = live_data(LiveConfig.from_dict({"dataset": "spiral", "train_ratio": 0.2}))
    assert len(d.y_train) == 200 and len(d.y_test) == 800


@pytest.mark.slow
def test_generated_script_runs_and_gives_the_first_step_loss(tmp_path):
    import subprocess
    import sys

    specs = [
        {"dataset": "spiral", "depth": 4, "width": 8, "activation": "tanh", "scheme": "glorot_normal", "seed": 3},
        {"dataset": "digits", "depth": 3, "width": 32, "activation": "leaky_relu", "scheme": "he_normal",
         "optimizer": "adam", "lr": 0.001, "batch_size": 64, "seed": 11},
        {"dataset": "xor", "depth": 2, "width": 16, "activation": "linear", "scheme": "lsuv", "noise": 0.2,
         "train_ratio": 0.4},
    ]
    expected, paths = [], []
    for k, spec in enumerate(specs):
        cfg = LiveConfig.from_dict(spec)
        if k == 0:
            cfg = cfg.with_phase_point(1.3, 0.05)
        s = LiveSession(cfg)
        s.train(1)
        expected.append(s.first_loss)
        path = tmp_path / f"run{k}.py"
        path.write_text(cfg.to_script(epochs=1))
        paths.append(str(path))
    runner = "import runpy, sys\nfor p in sys.argv[1:]:\n    print('==', p)\n    runpy.run_path(p, run_name='__main__')\n"
    out = subprocess.run([sys.executable, "-c", runner, *paths], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    firsts = [float(line.split()[-1]) for line in out.stdout.splitlines() if line.startswith("first-step loss")]
    assert len(firsts) == len(specs), out.stdout
    for got, want in zip(firsts, expected):
        assert got == pytest.approx(want, abs=1e-6)
    assert out.stdout.count("epoch 1: step") == len(specs)


def test_a_frame_is_a_summary_of_bounded_size():
    """The deepest network the playground allows, on a 2-D set: every per-layer list and grid is small;
    no tensor travels (bins, scalars, quantized grids of at most 48² and 8 × 8 × 16² values)."""
    s = LiveSession({"dataset": "spiral", "depth": 64, "width": 16, "activation": "relu", "scheme": "he_normal"})
    frame = s.step(1)
    text = json.dumps(frame, allow_nan=False)
    assert len(text) < 150_000, len(text)
    assert len(frame["layers"]) == 65 and len(frame["hist"]) == 65
    assert all(len(h[k]["counts"]) == 30 for h in frame["hist"] for k in ("act", "grad", "weight"))
    assert len(frame["neurons"]["layers"]) == 8 and frame["neurons"]["units"] == 8
    assert frame["boundary"]["size"] <= 48


@pytest.mark.slow
def test_every_activation_builds_measures_and_writes_its_script():
    """Each activation the model builders know: a session, its static facts (the phase diagram) and a
    frame, all JSON; the script builds the same activation module, with the same outputs."""
    x = torch.linspace(-4, 4, 101)
    for act in LIVE_ACTIVATIONS:
        s = LiveSession({"dataset": "xor", "depth": 2, "width": 4, "activation": act})
        json.dumps(s.info(), allow_nan=False)
        frame = s.step(2)
        json.dumps(frame, allow_nan=False)
        assert len(frame["layers"]) == 3, act
        module = s.model[2]
        expr = "nn.Identity()" if act == "linear" else f"nn.{type(module).__name__}()"
        assert expr in s.config.to_script(), act
        with torch.no_grad():
            assert torch.equal(eval(expr, {"nn": nn})(x), module(x)), act
