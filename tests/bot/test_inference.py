"""The micro-batching inference service: batching, never blocking the loop, time-outs,
unavailable models, failures, hot reload."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.services.inference import (
    InferenceError,
    InferenceService,
    InferenceTimeout,
    TaskUnavailable,
)
from tests.bot.fakes import FakeModel, FakeModels


def service(models: FakeModels, **kwargs: float) -> InferenceService:
    options = {"max_batch": 32, "max_wait_ms": 5.0, "timeout_s": 5.0, "retry_s": 300.0}
    options.update(kwargs)
    return InferenceService(models, threads=2, **options)  # type: ignore[arg-type]


async def test_concurrent_requests_share_batches_and_get_their_own_answers() -> None:
    chat = FakeModel("chat", delay=0.05)
    inference = service(FakeModels([chat]))
    texts = [f"message {i}" for i in range(40)]
    answers = await asyncio.gather(*(inference.predict("chat", t) for t in texts))
    assert [a.text for a in answers] == [f"chat:{t}" for t in texts]
    assert sum(chat.batches) == 40 and len(chat.batches) < 10
    assert max(chat.batches) <= 32
    stats = inference.stats()["chat"]
    assert stats["requests"] == 40 and stats["share_requests_batched"] > 0.8
    assert {a.version for a in answers} == {"v-fake"}
    await inference.close()


async def test_batch_size_limit_is_respected() -> None:
    chat = FakeModel("chat", delay=0.02)
    inference = service(FakeModels([chat]), max_batch=4)
    await asyncio.gather(*(inference.predict("chat", str(i)) for i in range(10)))
    assert max(chat.batches) <= 4 and sum(chat.batches) == 10
    await inference.close()


async def test_the_event_loop_keeps_running_while_a_model_works() -> None:
    inference = service(FakeModels([FakeModel("chat", delay=0.4)]))
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.perf_counter()
        for _ in range(30):
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    await asyncio.gather(inference.predict("chat", "hi"), ticker())
    assert max(gaps) < 0.15  # the model's 0.4 s ran in a worker thread
    await inference.close()


async def test_time_out_then_service_recovers() -> None:
    slow = FakeModel("chat", delay=0.3)
    inference = service(FakeModels([slow]), timeout_s=0.1)
    with pytest.raises(InferenceTimeout):
        await inference.predict("chat", "hello")
    slow.delay = 0
    await asyncio.sleep(0.3)
    assert (await inference.predict("chat", "again")).text == "chat:again"
    await inference.close()


async def test_unavailable_task_is_reported_and_retried_later() -> None:
    models = FakeModels([FakeModel("chat")])
    inference = service(models, retry_s=0.2)
    with pytest.raises(TaskUnavailable):
        await inference.predict("qa", "what?")
    assert inference.state("qa") == "unavailable"
    with pytest.raises(TaskUnavailable):
        await inference.predict("qa", "what?")
    assert models.loads.count("qa") == 1  # not retried within retry_s
    models.models["qa"] = FakeModel("qa")
    await asyncio.sleep(0.25)
    assert (await inference.predict("qa", "what?")).text == "qa:what?"
    assert inference.state("qa") == "ready"
    await inference.close()


async def test_a_failing_batch_fails_its_requests_only() -> None:
    chat = FakeModel("chat")
    inference = service(FakeModels([chat]))
    chat.fail = RuntimeError("boom")
    with pytest.raises(InferenceError):
        await inference.predict("chat", "x")
    chat.fail = None
    assert (await inference.predict("chat", "y")).text == "chat:y"
    await inference.close()


async def test_a_model_that_fails_its_warm_up_is_unavailable() -> None:
    broken = FakeModel("chat")
    broken.broken = True
    inference = service(FakeModels([broken]))
    with pytest.raises(TaskUnavailable):
        await inference.predict("chat", "x")
    await inference.close()


async def test_warm_up_loads_in_the_background() -> None:
    models = FakeModels([FakeModel("chat")])
    inference = service(models)
    inference.warm_up(["chat", "intent"])
    for _ in range(50):
        if inference.state("chat") == "ready" and inference.state("intent") == "unavailable":
            break
        await asyncio.sleep(0.02)
    assert inference.versions() == {"chat": "v-fake"}
    assert not inference.ready("intent")
    await inference.close()


async def test_reload_switches_atomically_and_keeps_the_old_version_on_failure() -> None:
    models = FakeModels([FakeModel("chat", version="v1")])
    inference = service(models)
    assert (await inference.predict("chat", "a")).version == "v1"
    models.models["chat"] = FakeModel("chat", version="v2")
    assert await inference.reload("chat") == "v2"
    assert (await inference.predict("chat", "a")).version == "v2"
    del models.models["chat"]
    with pytest.raises(TaskUnavailable):
        await inference.reload("chat")
    assert (await inference.predict("chat", "a")).version == "v2"
    await inference.close()


async def test_models_are_warmed_up_before_serving() -> None:
    chat = FakeModel("chat")
    inference = service(FakeModels([chat]))
    await inference.predict("chat", "first")
    assert chat.warmed_up and chat.batches == [1]  # the warm-up call came before
    await inference.close()


async def test_a_model_with_its_own_warm_up_is_asked_to_prepare_the_batch_sizes() -> None:
    chat = FakeModel("chat")
    sizes: list[int] = []
    chat.warm_up = sizes.append  # type: ignore[method-assign]
    inference = service(FakeModels([chat]), max_batch=16)
    await inference.predict("chat", "hi")
    assert sizes == [16]
    await inference.close()


async def test_predict_many_keeps_order() -> None:
    inference = service(FakeModels([FakeModel("summarize")]))
    answers = await inference.predict_many("summarize", ["a", "b", "c"])
    assert [a.text for a in answers] == ["summarize:a", "summarize:b", "summarize:c"]
    assert {a.batch_size for a in answers} == {3}
    await inference.close()


async def test_a_first_load_that_starts_during_a_reload_cannot_put_the_old_version_back(
) -> None:
    """A reload of a task that was never loaded; a request meanwhile starts the first load of
    the current version, which finishes after the reload has switched: the reload wins."""
    import threading

    gate = threading.Event()

    def loader(task: str, version: str | None) -> FakeModel:
        if version == "v2":
            gate.wait(5)  # the new version takes its time
        return FakeModel(task, version=version or "v1")

    inference = InferenceService(loader, threads=2, max_wait_ms=1.0, timeout_s=5.0)
    reload = asyncio.create_task(inference.reload("chat", "v2"))
    await asyncio.sleep(0.05)
    request = asyncio.create_task(inference.predict("chat", "a"))  # starts the first load
    await asyncio.sleep(0.05)
    gate.set()
    assert await reload == "v2"
    assert (await request).version == "v2"
    await asyncio.sleep(0.05)
    assert inference.versions() == {"chat": "v2"}
    assert (await inference.predict("chat", "b")).version == "v2"
    await inference.close()


async def test_a_reload_whose_commit_fails_switches_nothing() -> None:
    models = FakeModels([FakeModel("chat", version="v1")])
    inference = service(models)
    assert (await inference.predict("chat", "a")).version == "v1"
    models.models["chat"] = FakeModel("chat", version="v2")

    async def disk_full() -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        await inference.reload("chat", "v2", commit=disk_full)
    assert (await inference.predict("chat", "a")).version == "v1"
    await inference.close()
