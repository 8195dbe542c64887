"""Telegram handlers, one feature per module; the order they run in is in ``bot/app.py``."""
