"""Architecture rules: model/ knows no Telegram or SQL; bot/ reaches model/ via the predictor
and the public API module (model.api)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def test_model_never_imports_telegram_or_sqlalchemy() -> None:
    for path, names in imported_modules("model").items():
        bad = {n for n in names if n.split(".")[0] in {"telegram", "sqlalchemy", "alembic"}}
        assert not bad, f"{path} imports {bad}"


def test_bot_uses_only_the_predictor_boundary() -> None:
    for path, names in imported_modules("bot").items():
        bad = {n for n in names if n.split(".")[0] in {"tensorflow", "keras"}}
        bad |= {n for n in names
                if n.split(".")[0] == "model" and n not in ("model.predictor", "model.api")}
        assert not bad, f"{path} imports {bad}"
