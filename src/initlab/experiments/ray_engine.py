"""The Ray engine: every group of a sweep a Ray task (the optional extra ``initlab[ray]``).

Ray core as it is meant to be used: the driver (``initlab sweep --engine ray``) puts each data set in
the object store once (``ray.put``), submits one task per group of runs (a remote function asking
for as many CPUs as it uses torch threads), and takes results as they finish (``ray.wait``); Ray
schedules the tasks over the cluster's nodes and re-runs a task whose worker process or node died
(``max_retries``). Only the driver touches the run directory: it writes each run's file atomically the
moment the result arrives, in the local engine's format, so a driver killed at any moment loses no
finished run and a second call redoes only what is missing.

Same bits as the local engine: a task runs the local engine's own code on the same data with the same
torch thread count (``threads``, 1 by default here; the local engine's default is torch's own count,
and the trainer's arithmetic depends on it: compare with ``--engine local --threads 1``). Every node
needs initlab and the same versions of torch and NumPy as the driver.

Without an address, ``ray.init`` starts a local Ray instance for the sweep and stops it at the end;
with one (``host:port`` of a running cluster's head node, as ``ray start --head`` prints it), the
sweep connects to that cluster and leaves it running. An address that nothing answers, a Ray version
initlab was not tested with, or a thread count larger than every node are one-line errors raised
before the run directory is touched.
"""

from __future__ import annotations

import logging
import re
import socket
from typing import Any, Callable, Iterator, Sequence

from ..errors import InitlabError, check_int, fail, require_extra
from .engines import Finished, GroupJob, describe_group

__all__ = ["RayEngine", "TESTED_VERSIONS"]

#: Ray releases (major.minor) initlab's Ray engine is tested with.
TESTED_VERSIONS = ("2.60",)

#: Times Ray re-runs a task whose worker process (or node) died before it finished.
MAX_RETRIES = 3

_ADDRESS = re.compile(r"^(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>\d{1,5})$")
_CONNECT_TIMEOUT_S = 3.0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)


def parse_address(address: Any) -> tuple[str, int]:
    """``(host, port)`` of a ``host:port`` address, or a one-line error."""
    allowed = "host:port of a running Ray cluster's head node, e.g. '10.0.0.5:6379' (as `ray start --head` prints it)"
    if not isinstance(address, str):
        raise fail("address", address, allowed)
    m = _ADDRESS.match(address.strip())
    if not m or not 1 <= int(m.group("port")) <= 65535:
        raise fail("address", address, allowed)
    return m.group("host").strip("[]"), int(m.group("port"))


def _train_task(job: GroupJob, configs: list, data: Any) -> tuple[list, str, float]:
    """The body of one Ray task: the local engine's training of one group."""
    return job(configs, data)


class RayEngine:
    """Groups as Ray tasks on the cluster at ``address`` (``None``: a local Ray instance)."""

    name = "ray"

    def __init__(self, address: str | None = None, *, max_retries: int = MAX_RETRIES):
        self.address = None if address is None else "%s:%d" % parse_address(address)
        self.max_retries = check_int("max_retries", max_retries, minimum=0)
        self._ray = None
        self._own = False

    def threads(self, threads: int | None) -> int:
        """Torch threads per task, and the CPUs each task asks Ray for: the given count, else 1."""
        return 1 if threads is None else threads

    # ------------------------------------------------------------------ connecting
    def start(self, threads: int = 1) -> None:
        """Import Ray, check its version, connect (or start a local instance) and check that some node
        has ``threads`` CPUs. Raises one line on any failure."""
        ray = require_extra("ray", "ray", feature="--engine ray")
        version = getattr(ray, "__version__", "unknown")
        if ".".join(version.split(".")[:2]) not in TESTED_VERSIONS:
            raise fail("ray", version, f"a Ray version initlab is tested with ({', '.join(v + '.x' for v in TESTED_VERSIONS)}); "
                       "install it with: pip install 'initlab[ray]'")
        if ray.is_initialized():  # the caller's own connection: used, and left open
            self._ray, self._own = ray, False
        else:
            if self.address is not None:
                self._probe()
            try:
                if self.address is None:
                    ray.init(address="local", include_dashboard=False, logging_level=logging.WARNING,
                             log_to_driver=False)
                else:
                    ray.init(address=self.address, logging_level=logging.WARNING, log_to_driver=False)
            except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError … here
                if ray.is_initialized():
                    ray.shutdown()
                where = "a local Ray instance" if self.address is None else "the Ray cluster"
                raise InitlabError(f"address: got {self.address or 'none (a local Ray instance)'!r}; allowed: "
                                   f"{where} that Ray {version} can start or join (ray.init failed: "
                                   f"{_first_line(exc)})") from None
            self._ray, self._own = ray, True
        try:
            self._check_cpus(threads)
        except BaseException:
            self.close()
            raise

    def _probe(self) -> None:
        host, port = parse_address(self.address)
        try:
            with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT_S):
                pass
        except OSError as exc:
            cause = exc.strerror or type(exc).__name__
            raise fail("address", self.address, f"the address of a running Ray cluster's head node "
                       f"(connecting to it failed: {cause})") from None

    def _check_cpus(self, threads: int) -> None:
        most = max((float(n.get("Resources", {}).get("CPU", 0)) for n in self._ray.nodes() if n.get("Alive")),
                   default=0.0)
        if most < threads:
            raise fail("threads", threads, f"at most {most:g}, the CPUs of the largest node of the Ray cluster "
                       "(each task asks for one CPU per torch thread)")

    def close(self) -> None:
        if self._ray is not None and self._own and self._ray.is_initialized():
            self._ray.shutdown()
        self._ray, self._own = None, False

    # ------------------------------------------------------------------ running
    def run(self, groups: Sequence[Sequence], job: GroupJob, *, data_for: Callable[[str], Any],
            describe: Callable[[str], None]) -> Iterator[Finished]:
        ray = self._ray
        if ray is None:
            raise InitlabError("engine: got a Ray engine that was not started; allowed: start() before run()")
        remote = ray.remote(_train_task).options(num_cpus=job.threads or 1, max_retries=self.max_retries,
                                                 retry_exceptions=False)
        data_refs: dict[str, Any] = {}
        pending: dict[Any, Sequence] = {}
        try:
            for group in groups:
                name = group[0].params["dataset"]
                if name not in data_refs:
                    data_refs[name] = ray.put(data_for(name))
                pending[remote.remote(job, [spec.train_config() for spec in group], data_refs[name])] = group
            total = len(pending)
            while pending:
                describe(f"on ray: {total - len(pending)} of {total} groups back")
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    group = pending.pop(ref)
                    results, how, seconds = self._result(ray, ref, group)
                    describe(describe_group(group))
                    yield group, results, how, seconds
        finally:
            for ref in pending:  # the driver stops early (an error, Ctrl-C): what is left is not needed
                try:
                    ray.cancel(ref, force=True)
                except Exception:
                    pass

    def _result(self, ray, ref, group) -> tuple[list, str, float]:
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:  # the training itself raised: no retry would help
            cause = getattr(exc, "cause", None)
            if isinstance(cause, InitlabError):
                raise InitlabError(str(cause)) from None
            raise InitlabError(f"run {group[0].run_id!r}: training failed on a Ray worker "
                               f"({_first_line(cause if cause is not None else exc)})") from None
        except ray.exceptions.RayError as exc:  # worker or node lost more often than max_retries
            raise InitlabError(f"run {group[0].run_id!r}: its Ray task failed {self.max_retries + 1} times "
                               f"({_first_line(exc)}); the runs finished so far are kept: run the same "
                               "command again to go on") from None
