"""The project's bot driven against the emulator (shared by tests/e2e and bench/e2e.py): real
small models, and the bot as a subprocess.

* ``prepare_models`` gives a model directory with real models of the four sequence-to-sequence
  tasks: the shipped defaults when ``model/pretrained`` has them all, otherwise tiny models
  trained here with ``python -m model train`` on generated data (cached in pytest's cache,
  keyed by the model code, so a second run does not train again).
* ``BotProcess`` runs ``python -m bot`` configured only through its documented environment
  settings, in a scratch directory (no ``.env`` of the developer is read), and reads its log.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import hashlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SEQ2SEQ_TASKS = ("translate-en-zh", "translate-zh-en", "summarize", "chat")
OPTIONAL_TASKS = ("qa", "intent")  # used when their shipped defaults are present
TINY = {"vocab_size": 340, "embed_dim": 32, "encoder_units": 32, "decoder_units": 48,
        "batch_size": 32, "dropout": 0.0, "learning_rate": 0.01}
TINY_EPOCHS = 10

EN = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ZH = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"]
CHAT = [("hello", "hi there"), ("hi", "hello friend"), ("good morning", "good morning to you"),
        ("how are you", "i am fine thanks"), ("thank you", "you are welcome"),
        ("bye", "see you later"), ("what is your name", "i am a small bot"),
        ("do you like music", "yes i like music"), ("nice weather", "yes it is sunny")]
NAMES = ["alpha", "beta", "gamma", "delta", "omega", "sigma"]
NOUNS = ["file", "image", "network", "music", "text", "disk"]
ADJECTIVES = ["fast", "small", "simple", "secure"]


# -- models -----------------------------------------------------------------------------------
def _write_split(folder: Path, pairs: list[tuple[str, str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, part in (("train", pairs[:-80]), ("dev", pairs[-80:-40]), ("test", pairs[-40:])):
        (folder / f"{name}.tsv").write_text("".join(f"{a}\t{b}\n" for a, b in part),
                                            encoding="utf-8")


def tiny_corpora(root: Path) -> dict[str, Path]:
    """Small learnable data: digits as words <-> Chinese digits, package blurbs -> synopsis,
    and a handful of chat turns."""
    rng = random.Random(7)
    numbers = []
    for _ in range(2000):
        digits = [rng.randrange(10) for _ in range(rng.randint(1, 4))]
        numbers.append((" ".join(EN[d] for d in digits), "".join(ZH[d] for d in digits)))
    blurbs = []
    for _ in range(1500):
        name, noun, adj = rng.choice(NAMES), rng.choice(NOUNS), rng.choice(ADJECTIVES)
        blurbs.append((f"{name} is a {adj} tool for {noun} work. it reads {noun} data and "
                       f"writes reports. {name} runs on every system.", f"{adj} {noun} tool"))
    chats = [rng.choice(CHAT) for _ in range(1500)]
    _write_split(root / "translate", numbers)
    _write_split(root / "summarize", blurbs)
    _write_split(root / "chat", chats)
    return {"translate-en-zh": root / "translate", "translate-zh-en": root / "translate",
            "summarize": root / "summarize", "chat": root / "chat"}


def train_tiny(task: str, data: Path, model_dir: Path) -> None:
    settings = [item for key, value in TINY.items() for item in ("--set", f"{key}={value}")]
    command = [sys.executable, "-m", "model", "train", "--task", task, "--data", str(data),
               "--epochs", str(TINY_EPOCHS), "--quiet", *settings]
    env = {**os.environ, "MODEL_DIR": str(model_dir), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=1200)
    assert done.returncode == 0, f"training {task} failed:\n{done.stderr[-3000:]}"


def shipped_defaults_present() -> bool:
    pretrained = REPO / "model" / "pretrained"
    return all((pretrained / task / "card.json").is_file() for task in SEQ2SEQ_TASKS)


@functools.cache  # once a run, even if model code is edited meanwhile
def models_cache_key() -> str:
    digest = hashlib.sha256(repr((TINY, TINY_EPOCHS, CHAT)).encode())
    for path in sorted((REPO / "model").rglob("*.py")):
        digest.update(path.read_bytes())
    for card in sorted((REPO / "model" / "pretrained").glob("*/card.json")):
        digest.update(card.read_bytes())  # new shipped defaults (qa, intent) are installed anew
    return digest.hexdigest()[:16]


def prepare_models(cache_root: Path, scratch: Path, tiny: bool = False,
                   tasks: Sequence[str] = SEQ2SEQ_TASKS) -> Path:
    """A MODEL_DIR with real models of the four sequence-to-sequence tasks (with ``tiny``:
    tiny models of ``tasks`` only, trained once per model code and cached; the other tasks then
    come from their shipped defaults if they are used).

    ``qa`` and ``intent`` come from their shipped defaults when ``model/pretrained`` has them
    (``model.api.load`` installs them on first use); otherwise the bot runs without them.
    """
    if shipped_defaults_present() and not tiny:
        models = scratch / "models"
        models.mkdir(parents=True, exist_ok=True)
        return models  # model.api.load installs the shipped defaults on first use
    models = cache_root / models_cache_key()
    cache_root.mkdir(parents=True, exist_ok=True)
    with (cache_root / "train.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs at once train once
        if all((models / task / "current").is_file() for task in tasks):
            return models
        corpora = tiny_corpora(scratch / "corpora")
        for task in tasks:
            if not (models / task / "current").is_file():
                train_tiny(task, corpora[task], models)
        for old in cache_root.iterdir():  # models of older model code, unused for a day
            if old.is_dir() and old != models and time.time() - old.stat().st_mtime > 86400:
                shutil.rmtree(old, ignore_errors=True)
    return models


# -- the bot as a subprocess ------------------------------------------------------------------
def bot_environment(token: str, api_url: str, workdir: Path, model_dir: Path,
                    **settings: object) -> dict[str, str]:
    """The environment of ``python -m bot``: the documented settings, nothing else of ours."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TELEGRAM_", "WEBHOOK_", "ADMIN_", "ALLOWED_"))}
    env.update({
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_API_BASE_URL": api_url,
        "BOT_DATA_DIR": str(workdir / "data"),
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'data' / 'bot.sqlite3'}",
        "MODEL_DIR": str(model_dir),
        "PRELOAD_TASKS": ",".join((*SEQ2SEQ_TASKS, *OPTIONAL_TASKS)),
        "STORE_GROUP_MESSAGES": "true",
        "USER_RATE_LIMIT": "1000",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).strip(
            os.pathsep),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        # Tiny models decode in milliseconds without XLA, which would compile every new
        # batch/length shape (about a second each) in the middle of the tests.
        "MODEL_XLA": "0",
    })
    env.update({key.upper(): str(value) for key, value in settings.items()})
    return env


_STARTED: list[subprocess.Popen[bytes]] = []  # every bot this process started


@atexit.register
def _kill_leftovers() -> None:
    """A bot still running when the test or bench process exits (a test that failed before it
    stopped its bot) is killed, instead of retrying an emulator that is gone, forever."""
    for proc in _STARTED:
        if proc.poll() is None:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)


@dataclass
class BotProcess:
    env: dict[str, str]
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    log_paths: list[Path] = field(default_factory=list)
    module: str = "bot"  # what ``python -m`` runs (bench.e2e: a wrapper that counts SQL)

    @property
    def database(self) -> Path:
        return self.workdir / "data" / "bot.sqlite3"

    def start(self) -> None:
        self.starts += 1
        log_path = self.workdir / f"bot-{self.starts}.log"
        self.log_paths.append(log_path)
        with log_path.open("wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", self.module], cwd=self.workdir,
                                         env=self.env, stdout=log, stderr=subprocess.STDOUT)
        _STARTED[:] = [p for p in _STARTED if p.poll() is None] + [self.proc]

    def log(self) -> str:
        return "".join(p.read_text(encoding="utf-8", errors="replace") for p in self.log_paths)

    def current_log(self) -> str:
        return self.log_paths[-1].read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, needles: Iterable[str | tuple[str, ...]], timeout: float = 240.0
                     ) -> None:
        """Until the current log has every needle (a tuple: any one of its strings)."""
        wanted = [(n,) if isinstance(n, str) else n for n in needles]
        deadline = time.monotonic() + timeout
        while True:
            text = self.current_log()
            missing = [n for n in wanted if not any(option in text for option in n)]
            if not missing:
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"the bot exited ({self.proc.returncode}):\n{text[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"bot log lacks {missing}:\n{text[-4000:]}")
            time.sleep(0.1)

    @property
    def preloaded(self) -> tuple[str, ...]:
        """The tasks the bot loads at start (its ``PRELOAD_TASKS``)."""
        return tuple(t for t in self.env.get("PRELOAD_TASKS", "").split(",") if t)

    def wait_ready(self, tasks: Iterable[str] | None = None, timeout: float = 240.0) -> None:
        """Until post_init is done, the models of ``tasks`` (default: the preloaded
        sequence-to-sequence tasks) are loaded and the preloaded optional ones are loaded or
        known to be missing."""
        if tasks is None:
            tasks = [t for t in self.preloaded if t not in OPTIONAL_TASKS]
        optional = [(f"loaded {t} version", f"model {t} unavailable") for t in OPTIONAL_TASKS
                    if t in self.preloaded]
        self.wait_for_log([" ready", *(f"loaded {task} version" for task in tasks), *optional],
                          timeout)

    def serves(self, task: str) -> bool:
        """Whether this run of the bot loaded a model for ``task``."""
        return f"loaded {task} version" in self.current_log()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10) as db:
            return db.execute(sql, params).fetchall()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class Ids:
    """Fresh user ids and group ids, so tests sharing one bot never share a chat."""

    def __init__(self, start: int) -> None:
        self.next_user = start
        self.next_group = -(start * 10)

    def user(self) -> int:
        self.next_user += 1
        return self.next_user

    def group(self) -> int:
        self.next_group -= 1
        return self.next_group


@dataclass
class LiveBot:
    """A running bot process, its emulator handle, and conversation helpers."""

    handle: Any  # botapi_emulator.BotHandle
    process: BotProcess
    ids: Ids

    def person(self, name: str, language_code: str | None = "en") -> tuple[Any, Any]:
        """A new user and their private chat with the bot."""
        user = self.handle.user(self.ids.user(), name, username=name.lower(),
                                language_code=language_code)
        return user, self.handle.private_chat(user)

    def exchange(self, chat: Any, user: Any, text: str, n: int = 1, timeout: float = 60.0,
                 reply_to: Any = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Send ``text`` and wait for the bot's next ``n`` messages in that chat."""
        sent = self.handle.send_text(chat, user, text, reply_to=reply_to)
        return sent, self.handle.wait_bot_messages(chat, n, timeout)

    def reply_text(self, chat: Any, user: Any, text: str, **kwargs: Any) -> str:
        _, [reply] = self.exchange(chat, user, text, **kwargs)
        return str(reply["text"])

    def silence(self, chat: Any, quiet: float = 1.5) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.handle.collect_bot_messages(
            chat, quiet=quiet, timeout=quiet + 10)
        return messages

    def stored_reply(self, chat_id: int, message_id: int) -> tuple[Any, ...]:
        """(task, model_version, text) of the bot's stored reply to a message.

        The bot records a reply right after Telegram accepted it, so wait a moment for it.
        """
        deadline = time.monotonic() + 15
        while True:
            rows = self.process.rows(
                "SELECT task, model_version, text FROM messages WHERE chat_id=? "
                "AND direction='out' AND reply_to_message_id=? ORDER BY id", chat_id, message_id)
            if rows or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert rows, f"no stored reply to message {message_id} in chat {chat_id}"
        return rows[0]


def start_live_bot(botapi: Any, models: Path, workdir: Path, username: str, first_id: int,
                   ready_tasks: Sequence[str] | None = None, **settings: object) -> LiveBot:
    """The bot as a process on its own emulated bot, once the models of ``ready_tasks`` are
    loaded (default: every preloaded one; ``preload_tasks="chat,qa,intent"`` starts the bot
    with only these, which is quicker: the others load on first use)."""
    handle = botapi.new_bot(username=username)
    env = bot_environment(handle.token, handle.base_url, workdir, models, **settings)
    process = BotProcess(env, workdir)
    process.start()
    process.wait_ready(ready_tasks)
    return LiveBot(handle, process, Ids(first_id))
