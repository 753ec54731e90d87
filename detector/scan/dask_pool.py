"""The Dask pool: :func:`~detector.scan.worker.scan_file` on an existing Dask cluster.

``--scheduler tcp://HOST:8786`` submits the files to the cluster; the scanning process
still walks the inputs, hashes, and writes the database.  The workers need the
``detector`` package installed (``pip install -e .``) and the files at the same paths
(shared storage); the fitted model is sent to them (``scatter``).  Worker death is
handled by Dask: the nanny restarts the worker and the task is retried on another one;
after ``distributed.scheduler.allowed-failures`` deaths it is recorded as failed.

Dask (``distributed``) is an optional dependency, imported only when this pool is made.
"""

from __future__ import annotations

import uuid

from ..trust import one_line
from .worker import scan_file


class ScanError(Exception):
    """A scan that cannot start (one-line, user-facing message), e.g. an unusable cluster."""


class DaskPool:
    """The local pool's interface on an existing Dask cluster (``--scheduler tcp://HOST:PORT``)."""

    def __init__(self, address: str, connect_timeout: float = 30, workers_timeout: float = 60, model=None):
        try:  # optional heavy dependency: only a scan on a cluster needs it
            import distributed
        except ImportError:
            raise ScanError("--scheduler needs Dask: pip install distributed") from None
        self._distributed = distributed
        try:
            self.client = distributed.Client(address, timeout=f"{connect_timeout}s", set_as_default=False)
        except (OSError, TimeoutError) as e:
            raise ScanError(f"cannot reach the Dask scheduler at {address}: {one_line(e)}") from None
        try:
            self.client.wait_for_workers(1, timeout=workers_timeout)
        except (OSError, TimeoutError):
            self.client.close()
            raise ScanError(f"no Dask worker joined {address} within {workers_timeout:g} s "
                            f"(start some with: dask worker {address} --nworkers N --nthreads 1)") from None
        self.nthreads = sum(self.client.nthreads().values()) or 1
        # the fitted model travels with the tasks (once per worker): no model folder needed there
        self.model = None if model is None else self.client.scatter(model, broadcast=True, hash=False)
        self.capacity = 2 * self.nthreads  # one queued per thread keeps workers busy
        self.futures: dict = {}  # future -> key
        self.address = address

    @property
    def idle(self) -> int:
        return self.capacity - len(self.futures)

    def submit(self, key, task: dict) -> None:
        if self.model is not None:
            task = {**task, "model": self.model}
        fut = self.client.submit(scan_file, **task, pure=False, key=f"scan_file-{uuid.uuid4().hex}")
        self.futures[fut] = key

    def wait(self, timeout: float = 0.5) -> list[tuple[object, dict]]:
        if not self.futures:
            return []
        try:
            self._distributed.wait(list(self.futures), timeout=timeout, return_when="FIRST_COMPLETED")
        except Exception:  # timeout
            pass
        done = []
        for fut in [f for f in self.futures if f.done()]:
            key = self.futures.pop(fut)
            try:
                res = fut.result()
            except Exception as e:  # KilledWorker (the task killed workers repeatedly), lost connection...
                name = type(e).__name__
                why = ("worker processes died repeatedly while analysing this file" if name == "KilledWorker"
                       else "Dask task failed")
                res = {"status": "failed", "error": f"{why} ({name}: {one_line(e)[:300]})"}
            fut.release()
            done.append((key, res))
        return done

    def describe(self) -> str:
        return f"dask:{self.address}:{self.nthreads}"

    def close(self) -> None:
        try:
            if self.futures:
                self.client.cancel(list(self.futures))
        finally:
            self.client.close()
