"""The stdlib character corpus and the small causal transformer built on it."""

import sysconfig
from pathlib import Path

import pytest
import torch
import torch.fx

from initlab.errors import InitlabError
from initlab.experiments.lm import char_transformer, lm_loss
from initlab.experiments.text import STDLIB_MODULES, UNKNOWN, VOCAB, decode, encode, load_text


def test_corpus_is_the_listed_stdlib_files_split_per_file():
    data = load_text()
    root = Path(sysconfig.get_paths()["stdlib"])
    assert [f[0] for f in data.files] == list(STDLIB_MODULES)
    first = Path(data.files[0][1])
    assert first.parent == root and first.name == "abc.py"
    text = first.read_text(encoding="utf-8")
    cut = round(len(text) * 0.9)
    assert decode(data.train[:cut]) == text[:cut]  # the first 90 % of the first file opens the training text
    assert decode(data.val[:len(text) - cut]) == text[cut:]  # its last 10 % opens the validation text
    total = sum(f[2] for f in data.files)
    assert len(data.train) + len(data.val) == total + 2 * (len(data.files) - 1)  # files joined by newlines
    assert data.vocab_size == 98 and len(VOCAB) == 97 and data.unknown_fraction < 1e-3
    assert data.train.dtype == torch.uint8 and int(data.train.max()) < data.vocab_size


def test_corpus_is_deterministic():
    a = load_text(max_chars=50_000)
    load_text.cache_clear()
    b = load_text(max_chars=50_000)
    assert a is not b and a.fingerprint == b.fingerprint and torch.equal(a.train, b.train)
    assert len(a.train) + len(a.val) == 50_000 + 2 * (len(a.files) - 1)
    assert load_text(max_chars=50_000) is b  # cached


def test_encode_decode_and_unknown_characters():
    assert decode(encode("def f(x):\n\treturn x ~ 1")) == "def f(x):\n\treturn x ~ 1"
    assert encode("é")[0] == UNKNOWN and decode(encode("aéb")) == "a\ufffdb"
    assert encode(" ").item() == 3 and encode("~").item() == 97


def test_batches_are_shifted_windows_from_a_seeded_generator():
    data = load_text(max_chars=20_000)
    x, y = data.batch("train", 8, 32, seed=3)
    assert x.shape == y.shape == (8, 32) and x.dtype == torch.long
    assert torch.equal(x[:, 1:], y[:, :-1])
    x2, _ = data.batch("train", 8, 32, seed=3)
    x3, _ = data.batch("train", 8, 32, seed=4)
    assert torch.equal(x, x2) and not torch.equal(x, x3)
    text = decode(data.train)
    assert decode(x[0]) in text  # a window of the training text
    stream = data.batches("val", 2, 16, seed=0)
    assert not torch.equal(next(stream)[0], next(stream)[0])


@pytest.mark.parametrize("kwargs,match", [
    (dict(split="test", batch_size=2, seq_len=8), "split: got 'test'; allowed: 'train', 'val'"),
    (dict(split="train", batch_size=0, seq_len=8), "batch_size: got 0"),
    (dict(split="val", batch_size=2, seq_len=10**9), "seq_len: got 1000000000; allowed: an integer >= 1 and <="),
])
def test_bad_batches(kwargs, match):
    with pytest.raises(InitlabError, match=match):
        load_text(max_chars=20_000).batch(**kwargs)
    with pytest.raises(InitlabError, match="max_chars: got 10"):
        load_text(max_chars=10)


def test_transformer_is_causal_traceable_and_starts_near_uniform():
    torch.manual_seed(0)
    m = char_transformer(32, depth=2, heads=4, context=16)
    ids = torch.randint(0, 98, (2, 16))
    out = m(ids)
    assert out.shape == (2, 16, 98)
    changed = ids.clone()
    changed[:, 9] = (changed[:, 9] + 1) % 98
    out2 = m(changed)
    assert torch.equal(out[:, :9], out2[:, :9]) and not torch.equal(out[:, 9:], out2[:, 9:])
    gm = torch.fx.symbolic_trace(m)
    assert torch.allclose(gm(ids), out)
    torch.nn.init.zeros_(m.head.weight)
    assert lm_loss(m(ids), ids).item() == pytest.approx(torch.log(torch.tensor(98.0)).item(), rel=1e-6)


def test_transformer_bad_sizes():
    with pytest.raises(InitlabError, match="width: got 30; allowed: a multiple of heads=4"):
        char_transformer(30, heads=4)
    with pytest.raises(InitlabError, match="depth: got 0"):
        char_transformer(32, depth=0)
