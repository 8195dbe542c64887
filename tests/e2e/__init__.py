"""End-to-end tests: the real python-telegram-bot stack against a local Bot API emulator."""
