"""A tuple of per-layer rows, indexed by position or by layer name: shared by probe and LSUV results."""

from __future__ import annotations

from typing import Iterator


class RowsByLayer:
    """Mixin for frozen dataclasses with a ``rows: tuple[dict, ...]`` field whose rows carry ``layer``."""

    rows: tuple[dict, ...]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict]:
        return iter(self.rows)

    def __getitem__(self, key: int | str) -> dict:
        if isinstance(key, str):
            for row in self.rows:  # the first row of that layer
                if row["layer"] == key:
                    return row
            raise KeyError(key)
        return self.rows[key]
