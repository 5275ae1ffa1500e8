"""A character-level text data set every machine has offline: the Python standard library's own source.

The corpus is the source of a fixed list of pure-Python standard-library modules
(:data:`STDLIB_MODULES`), each present in every CPython ≥ 3.10, read in that order from the running
interpreter's own library folder (``sysconfig.get_paths()["stdlib"]``; the files are read as text, not
imported, so modules that CPython 3.11+ freezes into the interpreter are read too). Nothing is downloaded.

* **Vocabulary** (fixed, independent of the text): id 0 stands for any character outside the
  vocabulary, then tab, newline and the 95 printable ASCII characters ``' '`` … ``'~'``, 98 ids in all.
* **Split**: the first ``1 − val_fraction`` of each file's characters go to the training text, the rest
  to the validation text, so both see every module and neither sees the other's characters.
  Files are joined with a newline.
* **Batches**: ``batch_size`` windows of ``seq_len + 1`` characters at positions drawn from a
  ``torch.Generator`` seeded by ``seed``; the input is the first ``seq_len`` characters and the target
  the next character at each position (``x[:, 1:] == y[:, :-1]``).

The selection is deterministic; the text itself is whatever the running Python ships, so it differs
between Python versions. :attr:`TextData.fingerprint` (SHA-256 of the corpus) and
:attr:`TextData.python` say which text a result was measured on.

>>> data = load_text(max_chars=20_000)
>>> x, y = data.batch("train", batch_size=4, seq_len=32, seed=0)
>>> tuple(x.shape), bool((x[:, 1:] == y[:, :-1]).all())
((4, 32), True)
"""

from __future__ import annotations

import functools
import hashlib
import platform
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import torch

from ..errors import InitlabError, check_choice, check_int, check_number

__all__ = ["STDLIB_MODULES", "VOCAB", "UNKNOWN", "TextData", "load_text", "encode", "decode"]

STDLIB_MODULES: tuple[str, ...] = (
    "abc", "argparse", "ast", "bisect", "calendar", "collections", "configparser", "contextlib", "copy", "csv",
    "dataclasses", "difflib", "enum", "fnmatch", "fractions", "functools", "glob", "heapq", "inspect",
    "json.decoder", "json.encoder", "keyword", "numbers", "operator", "pprint", "queue", "random", "shlex",
    "statistics", "string", "textwrap", "tokenize", "traceback", "typing", "warnings", "weakref",
)
"""The modules whose source makes the corpus, in corpus order: pure Python, in CPython 3.10 and later
(modules that became packages, such as ``pathlib`` in 3.13, are left out so the list reads the same
kind of file everywhere)."""

UNKNOWN = 0
"""The id of every character outside :data:`VOCAB`."""

VOCAB: str = "\t\n" + "".join(chr(c) for c in range(32, 127))
"""The characters with ids 1, 2, …; id 0 is :data:`UNKNOWN`."""

_INDEX = {c: i + 1 for i, c in enumerate(VOCAB)}
SPLITS = ("train", "val")


def encode(text: str) -> torch.Tensor:
    """Character ids (uint8) of ``text``; characters outside :data:`VOCAB` become :data:`UNKNOWN`.

    >>> encode("a\\n").tolist(), decode(encode("a\\n"))
    ([68, 2], 'a\\n')
    """
    return torch.tensor([_INDEX.get(c, UNKNOWN) for c in text], dtype=torch.uint8)


def decode(ids) -> str:
    """The text of ``ids``; :data:`UNKNOWN` shows as ``'\\ufffd'``."""
    return "".join(VOCAB[i - 1] if i > 0 else "\ufffd" for i in torch.as_tensor(ids).tolist())


@dataclass(frozen=True)
class TextData:
    """The stdlib corpus as character ids: ``train`` and ``val`` (1-D uint8 tensors)."""

    train: torch.Tensor = field(repr=False)
    val: torch.Tensor = field(repr=False)
    files: tuple[tuple[str, str, int], ...] = field(repr=False)
    fingerprint: str
    python: str
    unknown_fraction: float

    @property
    def vocab_size(self) -> int:
        return len(VOCAB) + 1

    def split(self, name: str) -> torch.Tensor:
        return self.train if check_choice("split", name, SPLITS) == "train" else self.val

    def batch(self, split: str, batch_size: int, seq_len: int, seed: int | None = None,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One batch ``(x, y)`` of int64 ids, each ``(batch_size, seq_len)``; ``y`` is ``x`` shifted by one.

        Window starts are drawn uniformly from ``generator`` (or a new one seeded with ``seed``)."""
        text = self.split(split)
        batch_size = check_int("batch_size", batch_size, minimum=1)
        seq_len = check_int("seq_len", seq_len, minimum=1, maximum=len(text) - 1)
        if generator is None:
            generator = torch.Generator().manual_seed(check_int("seed", 0 if seed is None else seed, minimum=0))
        starts = torch.randint(0, len(text) - seq_len, (batch_size,), generator=generator)
        windows = text[starts[:, None] + torch.arange(seq_len + 1)].long()
        return windows[:, :-1], windows[:, 1:]

    def batches(self, split: str, batch_size: int, seq_len: int, seed: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """An endless stream of batches from one generator seeded with ``seed``."""
        gen = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))
        while True:
            yield self.batch(split, batch_size, seq_len, generator=gen)


def _source(module: str) -> tuple[str, str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    rel = Path(*module.split("."))
    for path in (root / rel.with_suffix(".py"), root / rel / "__init__.py"):
        if path.is_file():
            return str(path), path.read_text(encoding="utf-8")
    raise InitlabError(f"text corpus: module {module!r} has no source file under {str(root)!r}; allowed: a CPython "
                       ">= 3.10 that ships its standard library as .py files")


@functools.lru_cache(maxsize=8)
def load_text(max_chars: int | None = None, val_fraction: float = 0.1) -> TextData:
    """The stdlib corpus, split per file into training and validation text.

    ``max_chars`` caps the corpus (the first files in :data:`STDLIB_MODULES` order, the last one cut),
    for tests and quick runs. Cached: the same arguments return the same object.
    """
    if max_chars is not None:
        max_chars = check_int("max_chars", max_chars, minimum=1000)
    val_fraction = check_number("val_fraction", val_fraction, minimum=0.0, maximum=0.5, open_min=True)
    train_parts, val_parts, files = [], [], []
    total = 0
    for module in STDLIB_MODULES:
        path, text = _source(module)
        if max_chars is not None:
            text = text[:max_chars - total]
        cut = round(len(text) * (1 - val_fraction))
        train_parts.append(text[:cut])
        val_parts.append(text[cut:])
        files.append((module, path, len(text)))
        total += len(text)
        if max_chars is not None and total >= max_chars:
            break
    train_text, val_text = "\n".join(train_parts), "\n".join(val_parts)
    digest = hashlib.sha256((train_text + "\0" + val_text).encode("utf-8")).hexdigest()
    train, val = encode(train_text), encode(val_text)
    unknown = float(((train == UNKNOWN).sum() + (val == UNKNOWN).sum()) / max(1, len(train) + len(val)))
    return TextData(train, val, tuple(files), digest, platform.python_version(), unknown)
