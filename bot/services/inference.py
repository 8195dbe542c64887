"""The inference service: an async facade that batches requests from every chat per task.

Each task has a queue. A serving coroutine takes the first waiting request, waits up to
``max_wait_ms`` for more (or until ``max_batch`` are waiting), and decodes them all with one
``predict`` call in a worker thread: TensorFlow releases the GIL, so the event loop keeps
serving updates while the model works, and concurrent chats share one forward pass. While a
batch decodes, the next one fills up.

The service knows nothing of TensorFlow: it calls a ``ModelLoader`` that returns a
``model.api.TextModel`` (see ``bot/services/model_loader.py`` for the real one).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from model.api import QAModel, TextModel

log = logging.getLogger(__name__)

_T = TypeVar("_T")


# ``loader(task, version)`` returns a TextModel or raises TaskUnavailable.
ModelLoader = Callable[[str, str | None], TextModel]


class InferenceError(Exception):
    """A model could not answer; the message is for logs, never for users."""


class TaskUnavailable(InferenceError):
    """The task has no usable model (not trained yet, unknown, or failed to load)."""


class InferenceTimeout(InferenceError):
    """The answer did not come within the time-out."""


@dataclass(frozen=True)
class ModelAnswer:
    """One model output (a ``model.api.Prediction``), with how long it took and with whom."""

    text: str
    confidence: float
    task: str
    version: str
    model_ms: float  # queue wait + decode
    batch_size: int
    sure: bool = True  # qa: the answer reaches the model's threshold
    label: str | None = None  # intent: qa | chat | translate | summarize
    target_lang: str | None = None  # intent: the language to translate into
    closest_answer: str = ""  # qa: the best answer, also when not sure


@dataclass
class TaskStats:
    requests: int = 0
    calls: int = 0
    batched_calls: int = 0  # calls that decoded more than one request
    batched_requests: int = 0  # requests that shared their call with others
    largest_batch: int = 0
    busy_s: float = 0.0

    def as_dict(self) -> dict[str, float]:
        calls, requests = max(self.calls, 1), max(self.requests, 1)
        return {**dataclasses.asdict(self), "mean_batch": self.requests / calls,
                "share_calls_batched": self.batched_calls / calls,
                "share_requests_batched": self.batched_requests / requests}


@dataclass
class _Request:
    text: str
    future: asyncio.Future[ModelAnswer]
    enqueued: float


class _TaskQueue:
    """One task's model, its waiting requests and its serving coroutine."""

    def __init__(self, task: str) -> None:
        self.task = task
        self.model: TextModel | None = None
        self.version: str | None = None
        self.loading: asyncio.Future[None] | None = None
        self.swaps = 0  # reloads so far: a first load that began before one must not land
        self.failed_at: float | None = None
        self.failure: str = ""
        self.pending: deque[_Request] = deque()
        self.wakeup = asyncio.Event()
        self.server: asyncio.Task[None] | None = None
        self.stats = TaskStats()


def _retrieve(future: asyncio.Future[None]) -> None:
    """Mark a background load's outcome as seen (failures are logged where they happen)."""
    if not future.cancelled():
        future.exception()


def _overlay_dir(model: TextModel | None) -> Path | None:
    """Where a qa model keeps the pairs taught at run time (None: no such model)."""
    return model.user_dir if isinstance(model, QAModel) else None


def _overlay_stamp(directory: Path | None) -> tuple[tuple[str, int, int], ...]:
    """What a model's run-time overlay directory holds now (names, sizes, modification times)."""
    if directory is None or not directory.is_dir():
        return ()
    return tuple(sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns)
                        for p in directory.iterdir() if p.is_file()))


def _reapply_overlay(model: TextModel, directory: Path | None) -> None:
    if isinstance(model, QAModel):
        model.apply_overlay(directory)


class InferenceService:
    """``await service.predict(task, text)``: batched, off the event loop, with a time-out."""

    def __init__(
        self,
        loader: ModelLoader,
        max_batch: int = 32,
        max_wait_ms: float = 5.0,
        timeout_s: float = 30.0,
        threads: int = 2,
        retry_s: float = 300.0,
        prepare: Callable[[str, TextModel], Awaitable[None]] | None = None,
    ) -> None:
        self._loader = loader
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="inference")
        self._load_executor = ThreadPoolExecutor(1, thread_name_prefix="model-load")
        self._queues: dict[str, _TaskQueue] = {}
        self._closed = False
        # awaited with every model that has loaded, before it serves (a first load, a reload,
        # a promotion, a rollback): ``ForgottenPairs.prepare`` removes forgotten pairs there;
        # if it raises, the model does not serve
        self.prepare = prepare

    # -- public API -------------------------------------------------------------------------
    async def predict(self, task: str, text: str, timeout: float | None = None) -> ModelAnswer:
        """The model's answer to one text; raises TaskUnavailable or InferenceTimeout."""
        [answer] = await self.predict_many(task, [text], timeout)
        return answer

    async def predict_many(
        self, task: str, texts: Sequence[str], timeout: float | None = None
    ) -> list[ModelAnswer]:
        """Answers to several texts, queued together (they may share a batch with others)."""
        limit = self.timeout_s if timeout is None else timeout
        try:
            return await asyncio.wait_for(self._answer(task, list(texts)), limit)
        except TimeoutError:
            raise InferenceTimeout(f"{task}: no answer within {limit:.1f} s") from None

    def state(self, task: str) -> str:
        """``ready``, ``loading``, ``unavailable`` (recently failed) or ``unknown`` (not tried)."""
        queue = self._queues.get(task)
        if queue is None:
            return "unknown"
        if queue.model is not None:
            return "ready"
        if queue.loading is not None and not queue.loading.done():
            return "loading"
        if queue.failed_at is not None and time.monotonic() - queue.failed_at < self.retry_s:
            return "unavailable"
        return "unknown"

    def ready(self, task: str) -> bool:
        """True when the task's model is loaded; starts loading it in the background if not."""
        if self.state(task) == "unknown":
            self.warm_up([task])
        return self.state(task) == "ready"

    async def available(self, task: str) -> bool:
        """Load the task's model if needed; False when it cannot be loaded."""
        try:
            await self._ensure_loaded(self._queue(task))
        except TaskUnavailable:
            return False
        return True

    async def apply(self, task: str, operation: Callable[[TextModel], _T]) -> _T:
        """Run ``operation(model)`` on the task's serving model in an inference thread (e.g.
        the qa model's ``add_pair``); loads the model if needed, else raises TaskUnavailable."""
        model = await self._ensure_loaded(self._queue(task))
        return await asyncio.get_running_loop().run_in_executor(self._executor, operation, model)

    def warm_up(self, tasks: Sequence[str]) -> None:
        """Start loading these tasks' models in the background (failures are logged only)."""
        for task in tasks:
            queue = self._queue(task)
            if queue.model is None and queue.loading is None:
                queue.loading = asyncio.ensure_future(self._load(queue, None))
                queue.loading.add_done_callback(_retrieve)

    async def reload(self, task: str, version: str | None = None,
                     commit: Callable[[], Awaitable[None]] | None = None) -> str:
        """Load a version (default: current) in the background and switch to it atomically once
        it has loaded and decoded its warm-up batch.

        Requests in flight finish on the old version (a batch holds its model). If loading
        fails, the old version keeps serving and the error is raised: TaskUnavailable when the
        version does not exist, the loader's own exception when its files are broken.
        Run-time additions of the old model (the qa overlay, kept in ``user_dir``) are read
        again if they changed while the new version loaded, so none is lost by the swap.
        ``commit`` runs once the version answers and before it serves (the registry's pointer
        is written then); if it raises, nothing is switched.
        """
        loop = asyncio.get_running_loop()
        queue = self._queue(task)
        if queue.loading is not None and not queue.loading.done():
            # the first load of the task must not land after (and over) this version
            await asyncio.gather(asyncio.shield(queue.loading), return_exceptions=True)
        overlay_dir = _overlay_dir(queue.model)
        seen = _overlay_stamp(overlay_dir)
        model = await loop.run_in_executor(
            self._load_executor, self._load_and_warm_up, task, version
        )
        for _ in range(5):  # a pair taught during the load went to the old model's overlay
            now = _overlay_stamp(overlay_dir)
            if now == seen:
                break
            seen = now
            await loop.run_in_executor(self._load_executor, _reapply_overlay, model, overlay_dir)
        if self.prepare is not None:
            await self.prepare(task, model)
        if commit is not None:
            await commit()
        old = queue.version
        queue.swaps += 1
        queue.model, queue.version = model, model.version
        queue.failed_at, queue.failure = None, ""
        log.info("serving %s version %s (was %s)", task, queue.version, old)
        return queue.version

    def versions(self) -> dict[str, str]:
        return {t: str(q.version) for t, q in self._queues.items() if q.model is not None}

    def queue_depths(self) -> dict[str, int]:
        return {t: len(q.pending) for t, q in self._queues.items()}

    def stats(self) -> dict[str, dict[str, float]]:
        """Per task and in total: requests, model calls, and the share that was batched."""
        total = TaskStats()
        result = {}
        for task, queue in self._queues.items():
            s = queue.stats
            if s.requests:
                result[task] = s.as_dict()
            total.requests += s.requests
            total.calls += s.calls
            total.batched_calls += s.batched_calls
            total.batched_requests += s.batched_requests
            total.largest_batch = max(total.largest_batch, s.largest_batch)
            total.busy_s += s.busy_s
        result["total"] = total.as_dict()
        return result

    async def close(self) -> None:
        self._closed = True
        tasks = []
        for queue in self._queues.values():
            for task in (queue.server, queue.loading):
                if task is not None and not task.done():
                    task.cancel()
                    tasks.append(task)
            for request in queue.pending:
                if not request.future.done():
                    request.future.set_exception(InferenceError("service closed"))
        await asyncio.gather(*tasks, return_exceptions=True)
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._load_executor.shutdown(wait=False, cancel_futures=True)

    # -- internals --------------------------------------------------------------------------
    def _queue(self, task: str) -> _TaskQueue:
        if task not in self._queues:
            self._queues[task] = _TaskQueue(task)
        return self._queues[task]

    async def _load(self, queue: _TaskQueue, version: str | None) -> None:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        swaps = queue.swaps
        try:
            model = await loop.run_in_executor(
                self._load_executor, self._load_and_warm_up, queue.task, version
            )
            if self.prepare is not None:
                await self.prepare(queue.task, model)
        except TaskUnavailable as exc:
            queue.failed_at, queue.failure = time.monotonic(), str(exc)
            log.info("model %s unavailable: %s", queue.task, exc)
            raise
        except Exception as exc:
            queue.failed_at, queue.failure = time.monotonic(), f"{type(exc).__name__}: {exc}"
            log.exception("loading the %s model failed", queue.task)
            raise TaskUnavailable(queue.failure) from exc
        finally:
            queue.loading = None
        if queue.swaps != swaps:  # a reload switched versions meanwhile: it wins
            log.info("a load of %s finished after a reload; keeping version %s", queue.task,
                     queue.version)
            return
        queue.model, queue.version = model, model.version
        queue.failed_at = None
        log.info("loaded %s version %s in %.1f s", queue.task, queue.version,
                 time.perf_counter() - started)

    def _load_and_warm_up(self, task: str, version: str | None) -> TextModel:
        """Load, then compile: graphs are traced (and with XLA compiled, once per input shape)
        on their first call, which should not be a user's; ``warm_up(max_batch)`` prepares the
        shapes the model will meet."""
        model = self._loader(task, version)
        model.warm_up(self.max_batch)
        return model

    async def _ensure_loaded(self, queue: _TaskQueue) -> TextModel:
        if queue.model is not None:
            return queue.model
        if self.state(queue.task) == "unavailable":
            raise TaskUnavailable(queue.failure or queue.task)
        if queue.loading is None:
            queue.loading = asyncio.ensure_future(self._load(queue, None))
            queue.loading.add_done_callback(_retrieve)
        await asyncio.shield(queue.loading)
        assert queue.model is not None
        return queue.model

    async def _answer(self, task: str, texts: list[str]) -> list[ModelAnswer]:
        if self._closed:
            raise InferenceError("service closed")
        queue = self._queue(task)
        await self._ensure_loaded(queue)
        loop = asyncio.get_running_loop()
        now = loop.time()
        requests = [_Request(t, loop.create_future(), now) for t in texts]
        queue.pending.extend(requests)
        queue.wakeup.set()
        if queue.server is None or queue.server.done():
            queue.server = asyncio.create_task(self._serve(queue), name=f"inference:{task}")
        try:
            return list(await asyncio.gather(*(r.future for r in requests)))
        finally:
            for request in requests:  # on a time-out: let the server skip what is left
                request.future.cancel()

    async def _next_batch(self, queue: _TaskQueue) -> list[_Request]:
        """Wait for a request, then up to ``max_wait`` (from its arrival) for more."""
        loop = asyncio.get_running_loop()
        while not queue.pending:
            queue.wakeup.clear()
            await queue.wakeup.wait()
        deadline = queue.pending[0].enqueued + self.max_wait
        while len(queue.pending) < self.max_batch and (left := deadline - loop.time()) > 0:
            queue.wakeup.clear()
            try:
                await asyncio.wait_for(queue.wakeup.wait(), left)
            except TimeoutError:
                break
        batch: list[_Request] = []
        while queue.pending and len(batch) < self.max_batch:
            request = queue.pending.popleft()
            if not request.future.done():  # skip requests whose caller gave up
                batch.append(request)
        return batch

    async def _serve(self, queue: _TaskQueue) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next_batch(queue)
            if not batch:
                continue
            model = queue.model
            assert model is not None
            started = time.perf_counter()
            try:
                outputs = await loop.run_in_executor(
                    self._executor, model.predict, [r.text for r in batch]
                )
                if len(outputs) != len(batch):
                    raise InferenceError(f"{len(outputs)} outputs for {len(batch)} inputs")
            except Exception as exc:
                log.exception("the %s model failed on a batch of %d", queue.task, len(batch))
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(InferenceError(str(exc)))
                continue
            elapsed = time.perf_counter() - started
            self._record(queue.stats, len(batch), elapsed)
            for request, output in zip(batch, outputs, strict=True):
                if request.future.done():
                    continue
                request.future.set_result(ModelAnswer(
                    text=output.text, confidence=output.confidence, task=queue.task,
                    version=output.version, model_ms=(loop.time() - request.enqueued) * 1000,
                    batch_size=len(batch), sure=output.sure, label=output.label,
                    target_lang=output.target_lang, closest_answer=output.closest_answer,
                ))

    @staticmethod
    def _record(stats: TaskStats, size: int, elapsed: float) -> None:
        stats.requests += size
        stats.calls += 1
        stats.busy_s += elapsed
        stats.largest_batch = max(stats.largest_batch, size)
        if size > 1:
            stats.batched_calls += 1
            stats.batched_requests += size
