"""Files that are written whole or not at all, and operating-system errors as one line.

Every file initlab writes for an experiment (run files, results tables, reports, figures, JSON
results) goes through :func:`atomic_write`: the bytes go to a temporary file next to the target
(``.<name>.<pid>.<token>.tmp``), are flushed to disk, and only then replace the target with
``os.replace``. A reader, or a process restarted after SIGKILL, sees the old file or the whole new
one; a write that fails (a full disk, a file-size limit, a permission error) removes its temporary
file and raises one :class:`~initlab.errors.InitlabError` line naming the path and the cause.

Output locations are checked before the work starts (:func:`writable_dir`, :func:`writable_file`),
so a bad ``--out`` fails in a second, not after minutes of training.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> atomic_write(d / "a.txt", "hello")
>>> (d / "a.txt").read_text()
'hello'
>>> writable_dir(d / "new" / "deeper") == d / "new" / "deeper"
True
"""

from __future__ import annotations

import errno
import os
import re
import secrets
from pathlib import Path

from ..errors import InitlabError, fail

__all__ = ["atomic_write", "writable_dir", "writable_file", "read_text", "os_error", "remove_stale_temporaries",
           "TEMP_PATTERN"]

#: Temporary files written by :func:`atomic_write`: ``.<target name>.<pid>.<token>.tmp``.
TEMP_PATTERN = re.compile(r"^\.(?P<target>.+?)\.(?P<pid>\d+)(?:\.(?P<token>[0-9a-f]+))?\.tmp$")


def _cause(exc: OSError) -> str:
    text = exc.strerror or str(exc)
    return f"{text} [{errno.errorcode.get(exc.errno, exc.errno)}]" if exc.errno else text


def os_error(arg: str, path, exc: OSError, doing: str, allowed: str = "a location initlab can write to"
             ) -> InitlabError:
    """The one-line error for an operating-system failure on ``path``:
    ``<arg>: got '<path>'; allowed: <allowed> (<doing> failed: <strerror> [<ERRNO>])``."""
    return fail(arg, str(path), f"{allowed} ({doing} failed: {_cause(exc)})")


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def atomic_write(path: str | os.PathLike, data: str | bytes, *, arg: str = "out") -> None:
    """Write ``data`` to ``path`` whole or not at all (temporary file, fsync, ``os.replace``).

    On failure the temporary file is removed, ``path`` keeps its old contents (or stays absent),
    and an :class:`InitlabError` names ``path`` and the cause."""
    path = Path(path)
    tmp = _temporary(path)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    try:
        with open(tmp, "wb") as fh:
            _write_all(fh, payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise os_error(arg, path, exc, "writing it") from None


def _write_all(fh, payload: bytes) -> None:
    """``fh.write`` (a seam for tests that simulate a full disk)."""
    fh.write(payload)


def writable_dir(path: str | os.PathLike, arg: str = "out") -> Path:
    """Create the folder ``path`` (and its parents) if needed and check that a file can be written
    in it; return it as a :class:`~pathlib.Path`. Raises one line naming the path and the cause
    (under a file, in ``/proc``, read-only, no permission, no space)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise fail(arg, str(path), "a folder (this path is an existing file)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_error(arg, path, exc, "creating it", "a folder initlab can create and write to") from None
    _probe_write(path, arg)
    return path


def writable_file(path: str | os.PathLike, arg: str = "out") -> Path:
    """Check that the file ``path`` can be written (its folder is created if needed; an existing
    folder at ``path`` is an error); nothing is left behind. Returns ``path`` as a Path."""
    path = Path(path)
    if path.is_dir():
        raise fail(arg, str(path), "a file path (this path is a folder)")
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise fail(arg, str(path), f"a file path in a folder ({str(parent)!r} is a file)")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_error(arg, path, exc, "creating its folder", "a file in a folder initlab can create") from None
    _probe_write(parent, arg, shown=path)
    return path


def _probe_write(folder: Path, arg: str, shown: Path | None = None) -> None:
    probe = folder / f".initlab-probe.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        with open(probe, "wb") as fh:
            fh.write(b"0")
    except OSError as exc:
        raise os_error(arg, shown or folder, exc, "writing in its folder" if shown else "writing a file in it") from None
    finally:
        try:
            probe.unlink()
        except OSError:
            pass


def read_text(path: str | os.PathLike, arg: str) -> str:
    """The UTF-8 text of ``path``, or one line naming the path and what is wrong (missing, a folder,
    no permission, not UTF-8 text)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise fail(arg, str(path), "an existing file (no such file)") from None
    except IsADirectoryError:
        raise fail(arg, str(path), "a file (this path is a folder)") from None
    except OSError as exc:
        raise os_error(arg, path, exc, "reading it", "a readable file") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(arg, str(path), f"a UTF-8 text file (byte 0x{data[exc.start]:02x} at offset {exc.start} "
                   "is not UTF-8)") from None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return True
    return True


def remove_stale_temporaries(*folders: Path) -> list[Path]:
    """Remove the temporary files of :func:`atomic_write` calls whose process is gone (killed mid-write);
    a temporary file of a live process is never touched. Returns what was removed."""
    removed = []
    for folder in folders:
        try:
            entries = list(Path(folder).iterdir())
        except OSError:
            continue
        for entry in entries:
            m = TEMP_PATTERN.match(entry.name)
            if m is None or _alive(int(m.group("pid"))):
                continue
            try:
                entry.unlink()
                removed.append(entry)
            except OSError:
                pass
    return removed
