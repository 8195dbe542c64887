"""Services: inference, routing, conversation, turn bookkeeping, rate limits (no Telegram)."""
