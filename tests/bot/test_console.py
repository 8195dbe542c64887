import io
from dataclasses import dataclass

from bot.console import Console, run_console, translation_task


@dataclass
class FakePrediction:
    text: str
    confidence: float = 0.9
    version: str = "v-test"


class FakePredictor:
    def __init__(self, task: str) -> None:
        self.task = task

    def predict(self, texts: list[str]) -> list[FakePrediction]:
        return [FakePrediction(f"{self.task}:{t}") for t in texts]


def test_routes_commands_to_tasks() -> None:
    console = Console(FakePredictor)
    assert console.answer("/translate hello").startswith("translate-en-zh:hello")
    assert console.answer("/translate 你好").startswith("translate-zh-en:你好")
    assert console.answer("/translate en 你好").startswith("translate-zh-en:你好")
    assert console.answer("/summarize a long text").startswith("summarize:a long text")
    assert console.answer("how are you?").startswith("chat:how are you?")


def test_usage_help_and_quit() -> None:
    console = Console(FakePredictor)
    assert "Usage" in console.answer("/translate")
    assert "Usage" in console.answer("/summarize   ")
    assert "Unknown command" in console.answer("/nope")
    assert console.answer("") == "Type a message, or /help."
    assert console.answer("/quit") is None


def test_translation_direction() -> None:
    assert translation_task("good morning") == "translate-en-zh"
    assert translation_task("早上好") == "translate-zh-en"
    assert translation_task("早上好", "zh") == "translate-en-zh"


def test_console_loop_survives_errors() -> None:
    class Broken:
        def __init__(self, task: str) -> None:
            pass

        def predict(self, texts: list[str]) -> list[FakePrediction]:
            raise RuntimeError("model missing")

    out = io.StringIO()
    run_console(Broken, io.StringIO("hello\n/help\n/quit\n"), out)
    text = out.getvalue()
    assert "Sorry, that failed: model missing" in text and "/translate TEXT" in text
