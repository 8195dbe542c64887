"""The Telegram bot (python-telegram-bot 22, asyncio) and its terminal chat.

``python -m bot`` reads ``bot.config.Settings``; without a token it opens the terminal chat
(``bot.console``), otherwise it runs ``bot.app.build_application`` by polling or webhook.
Data flows one way: update -> handler (``bot.handlers``) -> services (``bot.services``:
conversation, routing, inference, turns) -> storage (``bot.storage``) and models
(``model.api``, the only thing imported from ``model``) -> reply.
"""
