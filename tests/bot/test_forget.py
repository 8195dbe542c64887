"""/forgetme forgets everything (issue 13 section 2): pairs made from the user's words by others'
corrections, pairs in a bank while the qa model is not loaded, versions trained from a snapshot
taken before the forget, answers rated 👍; the receipt; and a property over whole sequences.

The qa model here is ``BankVersion``: the pairs a version ships (``bank.jsonl`` in its
directory under ``MODEL_DIR``, as ``model.qa_files`` writes them), plus the pairs added at run
time (kept in the qa user dir, like the real overlay). It keeps no forgotten fingerprints of its
own, so a forgotten pair stays out of a version only through the bot's durable records.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import build_application
from bot.services.inference import TaskUnavailable
from bot.services.snapshot import CorpusInfo, corpus_of, take_snapshot
from bot.storage.models import Base, utcnow
from bot.storage.training import RetrainRunRepository
from model.api import Prediction, pair_fingerprint
from tests.bot.conftest import BotHarness, HarnessFactory, make_settings
from tests.bot.fakes import BOT_ID, FakeBotAPI, FakeModel, FakeModels
from tests.bot.test_learning import ADMIN, ALICE, BOB, GROUP, ask, last_sent, press

pytestmark = pytest.mark.both_engines  # on SQLite and on PostgreSQL (conftest.py)

NOT_SURE = "I'm not sure. The closest thing I know: I don't know"  # the reply to no pair
CORPUS = [("what is rnn", "A recurrent neural network."), ("what is zebra", "A striped horse.")]


def _key(text: str) -> str:
    return re.sub(r"[^\w ]", "", text.lower()).strip()


class BankVersion:
    """A ``model.api.QAModel``: shipped pairs of its version directory plus run-time pairs."""

    task = "qa"

    def __init__(self, version: str, directory: Path, user_dir: Path) -> None:
        self.version = version
        self.directory = directory
        self.user_dir: Path | None = user_dir
        self.lock = threading.Lock()
        lines = (directory / "bank.jsonl").read_text(encoding="utf-8").splitlines()
        self.pairs = {_key(q): (q, a) for q, a in (json.loads(line) for line in lines)}
        self.apply_overlay(user_dir)

    def _added_file(self) -> Path:
        assert self.user_dir is not None
        return self.user_dir / "added.json"

    def _added(self) -> list[list[str]]:
        path = self._added_file()
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []

    def _save_added(self, added: list[list[str]]) -> None:
        self._added_file().parent.mkdir(parents=True, exist_ok=True)
        self._added_file().write_text(json.dumps(added, ensure_ascii=False), encoding="utf-8")

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        out = []
        for text in texts:
            pair = self.pairs.get(_key(text))
            answer = pair[1] if pair else ""
            out.append(Prediction(answer, 0.9 if pair else 0.1, self.task, self.version,
                                  sure=pair is not None, closest_answer=answer or "I don't know"))
        return out

    def warm_up(self, max_batch: int) -> None:
        self.predict(["hello"])

    def apply_overlay(self, user_dir: Path | None) -> None:
        self.user_dir = user_dir
        for question, answer in self._added():
            self.pairs[_key(question)] = (question, answer)

    def add_pair(self, question: str, answer: str) -> None:
        with self.lock:
            self.pairs[_key(question)] = (question, answer)
            self._save_added([*self._added(), [question, answer]])

    def add_missing(self, pairs: Sequence[tuple[str, str]]) -> int:
        missing = [(q, a) for q, a in pairs if _key(q) not in self.pairs]
        for question, answer in missing:
            self.add_pair(question, answer)
        return len(missing)

    def remove_pair(self, question: str, answer: str | None = None) -> int:
        with self.lock:
            gone = self.pairs.pop(_key(question), None)
            self._save_added([p for p in self._added() if _key(p[0]) != _key(question)])
            return int(gone is not None)

    def forget(self, fingerprints: Sequence[str]) -> int:
        wanted = set(fingerprints)
        with self.lock:
            gone = [k for k, (q, a) in self.pairs.items() if pair_fingerprint(q, a) in wanted]
            for key in gone:
                del self.pairs[key]
            self._save_added([p for p in self._added() if pair_fingerprint(*p) not in wanted])
            return len(gone)


class BankModels(FakeModels):
    """Loads qa versions from ``MODEL_DIR`` (the current one by default); ``qa_down``: the qa
    model cannot be loaded now."""

    def __init__(self, root: Path) -> None:
        super().__init__(FakeModel(task) for task in ("chat", "summarize"))
        self.model_dir = root / "models"
        self.user_dir = root / "data" / "qa"
        self.qa_down = False

    def __call__(self, task: str, version: str | None) -> Any:
        if task != "qa":
            return super().__call__(task, version)
        self.loads.append(task)
        if self.qa_down:
            raise TaskUnavailable("the qa model is not loaded")
        version = version or (self.model_dir / "qa" / "current").read_text().strip()
        return BankVersion(version, self.model_dir / "qa" / "versions" / version, self.user_dir)


def ship_version(model_dir: Path, version: str, pairs: list[tuple[str, str]],
                 current: bool = False) -> None:
    directory = model_dir / "qa" / "versions" / version
    directory.mkdir(parents=True)
    (directory / "card.json").write_text(json.dumps({"version": version,
                                                     "created_at": version}))
    (directory / "bank.jsonl").write_text(
        "".join(json.dumps([q, a], ensure_ascii=False) + "\n" for q, a in pairs),
        encoding="utf-8")
    if current:
        (model_dir / "qa" / "current").write_text(f"{version}\n")
        (model_dir / "qa" / "history.json").write_text(json.dumps([version]))


def overrides(root: Path) -> dict[str, Any]:
    return {"admin_user_ids": [ADMIN.id], "bot_data_dir": root / "data",
            "model_dir": root / "models", "model_data_dir": root / "cache",
            "model_retry_s": 0}


def prepare_root(root: Path) -> BankModels:
    """A corpus for snapshots and a first qa version shipping the corpus."""
    corpus = corpus_of("qa", root / "cache").corpus_dir
    corpus.mkdir(parents=True)
    (corpus / "train.tsv").write_text("".join(f"{q}\t{a}\n" for q, a in CORPUS),
                                      encoding="utf-8")
    (corpus / "dev.tsv").write_text("what is rnn\tA recurrent neural network.\n",
                                    encoding="utf-8")
    ship_version(root / "models", "v0", CORPUS, current=True)
    return BankModels(root)


class Retrain:
    """A retrain as the bot runs one, the trainer replaced: snapshot, then a version that ships
    the snapshot's pairs, promoted; the run is recorded like ``RetrainService`` records it."""

    def __init__(self, harness: BotHarness, root: Path, version: str) -> None:
        self.harness, self.root, self.version = harness, root, version
        self.directory = root / "data" / "retrain" / f"run-{version}"
        self.run_id = 0

    async def snapshot(self) -> None:
        services = self.harness.services
        async with services.db.unit_of_work() as uow:
            self.run_id = await RetrainRunRepository(uow.session).add(
                "qa", "admin", ADMIN.id, "running", "v0", started_at=utcnow())
        corpus = corpus_of("qa", self.root / "cache")
        await take_snapshot(services.db, "qa", CorpusInfo("qa", corpus.corpus_dir, False),
                            self.directory)

    async def finish(self) -> None:
        lines = (self.directory / "train.tsv").read_text(encoding="utf-8").splitlines()
        pairs = [(q, a) for q, _, a in (line.partition("\t") for line in lines)]
        ship_version(self.root / "models", self.version, pairs)  # "trained" on the snapshot
        services = self.harness.services
        await services.versions.promote("qa", self.version)
        async with services.db.unit_of_work() as uow:
            await RetrainRunRepository(uow.session).update(
                self.run_id, status="promoted", candidate_version=self.version,
                finished_at=utcnow())
        shutil.rmtree(self.directory)


async def start(make_harness: HarnessFactory, root: Path) -> tuple[BotHarness, BankModels]:
    models = prepare_root(root)
    return await make_harness(models, **overrides(root)), models


async def forget(harness: BotHarness, person: Any) -> str:
    await harness.send(person, "/forgetme")
    confirm = last_sent(harness)
    [[yes, _]] = confirm["params"]["reply_markup"]["inline_keyboard"]
    await press(harness, person, confirm["message"], yes["callback_data"])
    return str(harness.api.of("editMessageText")[-1]["text"])


async def approve_first(harness: BotHarness) -> None:
    await harness.send(ADMIN, "/review")
    page = last_sent(harness)
    approve = page["params"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    await press(harness, ADMIN, page["message"], approve)


async def answer_of(harness: BotHarness, question: str) -> str:
    return (await ask(harness, BOB, question))["params"]["text"]


async def correct(harness: BotHarness, person: Any, answer: dict[str, Any], text: str,
                  chat_id: int | None = None) -> None:
    await press(harness, person, answer["message"], "fb:-")
    if chat_id is None:
        await harness.send(person, text)
        return
    prompt = last_sent(harness)["message"]  # in a group, the correction replies to the prompt
    bot_prompt = {**prompt, "from": {"id": BOT_ID, "is_bot": True, "first_name": "RNN"}}
    await harness.send(person, text, chat_id=chat_id, reply_to=bot_prompt)


# -- one test per finding (each fails on the code before this change) -------------------------
async def test_a_pair_from_anothers_correction_of_the_users_answer_is_forgotten(
        make_harness: HarnessFactory, tmp_path: Path) -> None:
    harness, _ = await start(make_harness, tmp_path)
    answer = await ask(harness, ALICE, "who made zorblax?", chat_id=GROUP)
    await correct(harness, BOB, answer, "The zorblax guild made it.", chat_id=GROUP)
    await approve_first(harness)
    assert await answer_of(harness, "who made zorblax?") == "The zorblax guild made it."

    await forget(harness, ALICE)
    assert await harness.rows("SELECT * FROM taught_pairs") == []  # her question was the source
    assert await answer_of(harness, "who made zorblax?") == NOT_SURE
    retrain = Retrain(harness, tmp_path, "v1")
    await retrain.snapshot()
    assert "zorblax" not in (retrain.directory / "train.tsv").read_text(encoding="utf-8")


async def test_forgotten_pairs_leave_a_bank_that_was_not_loaded_at_the_forget(
        make_harness: HarnessFactory, tmp_path: Path) -> None:
    harness, models = await start(make_harness, tmp_path)
    answer = await ask(harness, ALICE, "who made zorblax?")
    await correct(harness, ALICE, answer, "Alice's zorblax friends.")
    await approve_first(harness)
    assert await answer_of(harness, "who made zorblax?") == "Alice's zorblax friends."

    # a restart; the qa model cannot be loaded when she asks to be forgotten
    models.qa_down = True
    later = await make_harness(models, **overrides(tmp_path))
    later.chatter = harness.chatter  # Telegram's message ids go on where they were
    await forget(later, ALICE)
    models.qa_down = False  # it loads again: her pair is not served, and leaves its overlay
    assert (await ask(later, BOB, "who made zorblax?"))["params"]["text"] == NOT_SURE
    assert "zorblax" not in (models.user_dir / "added.json").read_text(encoding="utf-8")


async def test_a_version_trained_before_the_forget_does_not_serve_the_users_pairs(
        make_harness: HarnessFactory, tmp_path: Path) -> None:
    harness, _ = await start(make_harness, tmp_path)
    answer = await ask(harness, ALICE, "who made zorblax?")
    await correct(harness, ALICE, answer, "Alice's zorblax friends.")
    await approve_first(harness)
    liked = await ask(harness, ALICE, "What is RNN, zorblax?")  # 👍 on an answer to her words
    await press(harness, ALICE, liked["message"], "fb:+")
    retrain = Retrain(harness, tmp_path, "v1")
    await retrain.snapshot()  # a retrain is under way when she asks to be forgotten
    assert "zorblax" in (retrain.directory / "train.tsv").read_text(encoding="utf-8")

    text = await forget(harness, ALICE)
    assert "zorblax" not in (retrain.directory / "train.tsv").read_text(encoding="utf-8")
    await retrain.finish()  # the new version is promoted: it serves nothing of hers
    assert await answer_of(harness, "who made zorblax?") == NOT_SURE
    assert await answer_of(harness, "What is RNN, zorblax?") == NOT_SURE
    assert "zorblax" not in (tmp_path / "models" / "qa" / "versions" / "v1" /
                             "bank.jsonl").read_text(encoding="utf-8")
    assert "next retrain is the first without you" in text

    after = Retrain(harness, tmp_path, "v2")  # the first trained without her
    await after.snapshot()
    await after.finish()
    assert "first model versions trained without you: qa v2" in await forget(harness, ALICE)


async def test_a_liked_answer_in_the_serving_bank_is_removed_and_corpus_pairs_stay(
        make_harness: HarnessFactory, tmp_path: Path) -> None:
    harness, _ = await start(make_harness, tmp_path)
    answer = await ask(harness, ALICE, "who made zorblax?")
    await correct(harness, ALICE, answer, "Alice's zorblax friends.")
    await approve_first(harness)
    for question in ("who made zorblax", "what is rnn"):
        liked = await ask(harness, ALICE, question)
        await press(harness, ALICE, liked["message"], "fb:+")
    retrain = Retrain(harness, tmp_path, "v1")
    await retrain.snapshot()
    await retrain.finish()  # v1 ships her liked pair in its bank
    await harness.services.learning.teach("what is zorblax", "a word", ADMIN.id)
    text = await forget(harness, ALICE)
    assert await answer_of(harness, "what is rnn") == "A recurrent neural network."
    assert await answer_of(harness, "what is zorblax") == "a word"  # the admin's pair stays
    assert "zorblax friends" not in (tmp_path / "models" / "qa" / "versions" / "v1" /
                                     "bank.jsonl").read_text(encoding="utf-8")
    assert "took 1 question-answer pair(s)" in text  # taught and liked: one pair; rnn: corpus


async def test_every_table_is_mapped_in_where_words_go() -> None:
    from bot.services.privacy import WHERE_WORDS_GO

    assert set(WHERE_WORDS_GO) == set(Base.metadata.tables)


# -- the property -----------------------------------------------------------------------------
ACTIONS = ("ask", "ask_group", "like_own", "liked_by_bob", "correct_own", "bob_corrects",
           "retrain")


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[tuple[str, str]], str, str]:
    """Alice's actions (each with how the admin decides a correction), and where a retrain
    falls: before the forget, around it (snapshot before, promotion after) or after."""
    steps = draw(st.lists(st.tuples(st.sampled_from(ACTIONS),
                                    st.sampled_from(["approve", "edit", "reject"])),
                          min_size=1, max_size=6))
    retrain = draw(st.sampled_from(["none", "before", "around", "after"]))
    teach = draw(st.sampled_from(["none", "teach"]))
    return steps, retrain, teach


async def _scenario(root: Path, steps: list[tuple[str, str]], retrain_at: str,
                    teach: str) -> None:
    models = prepare_root(root)
    api = FakeBotAPI()
    app = build_application(make_settings(root, **overrides(root)), loader=models, request=api)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    harness = BotHarness(app, api, models)
    words = itertools.count()
    versions = itertools.count(1)
    try:
        for action, decision in steps:
            token = f"aliceword{next(words)}"
            group = action in ("ask_group", "bob_corrects")
            answer = await ask(harness, ALICE, f"what is {token}?",
                               chat_id=GROUP if group else None)
            if action == "like_own":
                await press(harness, ALICE, answer["message"], "fb:+")
            elif action == "liked_by_bob":
                await press(harness, BOB, answer["message"], "fb:+")
            elif action in ("correct_own", "bob_corrects"):
                person = ALICE if action == "correct_own" else BOB
                owner = "aliceword" if person is ALICE else "bobword"  # each writes their own
                text = f"{owner}{next(words)} is {person.first_name}'s answer"
                await correct(harness, person, answer, text, chat_id=GROUP if group else None)
                await harness.send(ADMIN, "/review")
                page = last_sent(harness)
                [approve, edit, reject] = page["params"]["reply_markup"]["inline_keyboard"][0]
                chosen = {"approve": approve, "edit": edit, "reject": reject}[decision]
                await press(harness, ADMIN, page["message"], chosen["callback_data"])
                if decision == "edit":
                    await harness.send(ADMIN, f"an edited answer {next(words)}")
            elif action == "retrain":
                run = Retrain(harness, root, f"v{next(versions)}")
                await run.snapshot()
                await run.finish()
        if teach == "teach":
            await harness.send(ADMIN, "/teach what is teaching | the admin's own words")
        around = None
        if retrain_at in ("before", "around"):
            around = Retrain(harness, root, f"v{next(versions)}")
            await around.snapshot()
            if retrain_at == "before":
                await around.finish()
        await forget(harness, ALICE)
        if retrain_at == "around":
            assert around is not None
            await around.finish()
        elif retrain_at == "after":
            run = Retrain(harness, root, f"v{next(versions)}")
            await run.snapshot()
            await run.finish()
            assert "qa " + run.version in await forget(harness, ALICE)

        # nothing she wrote is anywhere: tables, model files, snapshots, answers
        for table in Base.metadata.tables:
            for row in await harness.rows(f"SELECT * FROM {table}"):
                assert "aliceword" not in repr(tuple(row)), (table, row)
        for path in [*(root / "models").rglob("*"), *(root / "data" / "retrain").rglob("*")]:
            if path.is_file():
                assert "aliceword" not in path.read_text(encoding="utf-8"), path
        for n in range(next(words)):
            reply = (await ask(harness, BOB, f"what is aliceword{n}?"))["params"]["text"]
            assert "aliceword" not in reply
        assert await answer_of(harness, "what is rnn") == "A recurrent neural network."
    finally:
        assert app.post_shutdown is not None
        await app.post_shutdown(app)
        await app.shutdown()


@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_after_a_forget_nothing_the_user_wrote_remains_anywhere(
        scenario: tuple[list[tuple[str, str]], str, str]) -> None:
    steps, retrain_at, teach = scenario
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(_scenario(Path(directory), steps, retrain_at, teach))
