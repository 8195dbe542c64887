"""Secrets at start-up: a rejected token and a generated webhook secret never reach the log."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from botapi_emulator.bot_process import BotProcess, bot_environment


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(token: str, api_url: str, workdir: Path, **settings: object) -> dict[str, str]:
    models = workdir / "no-models"
    models.mkdir(parents=True, exist_ok=True)
    env = bot_environment(token, api_url, workdir, models, log_level="DEBUG", **settings)
    env["PRELOAD_TASKS"] = ""
    return env


def test_a_rejected_token_fails_start_up_with_one_line_and_without_the_token(
        botapi: Any, tmp_path: Path) -> None:
    token = "987654321:AAUnknownTokenThatTheServerRejects_x1"  # well-formed, never registered
    base_url = botapi.new_bot().base_url
    done = subprocess.run([sys.executable, "-m", "bot"], cwd=tmp_path,
                          env=_environment(token, base_url, tmp_path), capture_output=True,
                          text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    assert token not in output and token.split(":")[1] not in output
    assert "Traceback" not in output
    failures = [line for line in output.splitlines() if "start-up failed" in line]
    assert len(failures) == 1 and "rejected the bot token" in failures[0], output[-3000:]


def test_a_generated_webhook_secret_is_redacted_from_debug_logs(botapi: Any,
                                                                tmp_path: Path) -> None:
    handle = botapi.new_bot()
    port = _free_port()
    env = _environment(handle.token, handle.base_url, tmp_path,
                       webhook_url=f"http://127.0.0.1:{port}/hook", webhook_listen="127.0.0.1",
                       webhook_port=port)
    env.pop("WEBHOOK_SECRET_TOKEN", None)
    process = BotProcess(env, tmp_path)
    process.start()
    try:
        process.wait_for_log(["setWebhook", " ready"], timeout=120)
    finally:
        assert process.stop() == 0
    secret = handle.world.webhook["secret_token"]  # what the bot sent Telegram
    log = process.log()
    assert secret and len(secret) >= 32
    assert secret not in log and handle.token not in log
    assert "<redacted>" in log  # the setWebhook parameters were logged, redacted
