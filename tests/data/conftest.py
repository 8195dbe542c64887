"""Shared fixtures for the data-layer tests (tiny files under tests/fixtures/data)."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "data"


@pytest.fixture
def fixtures() -> Path:
    """Directory holding the tiny corpus fixtures."""
    return FIXTURES
