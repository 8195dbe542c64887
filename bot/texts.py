"""Everything the bot says, in English and Chinese. ``say(lang, key, **values)``."""

from __future__ import annotations

from typing import Final

LANGUAGES: Final = ("en", "zh")

_HELP_EN = """Send me any text and I will answer, translate or summarize it.

/ask QUESTION - answer a question
/translate TEXT - English <-> Chinese (direction from the script)
/translate en|zh TEXT - translate into English or Chinese
/summarize TEXT - a one-line summary
/mode auto|qa|chat|translate|summarize - what plain messages do here
/lang en|zh - my interface language
/help - this help"""

_HELP_ZH = """给我发任何文字,我会回答、翻译或总结。

/ask 问题 - 回答问题
/translate 文本 - 英汉互译(按文字判断方向)
/translate en|zh 文本 - 译成英文或中文
/summarize 文本 - 一句话摘要
/mode auto|qa|chat|translate|summarize - 普通消息在这里做什么
/lang en|zh - 界面语言
/help - 帮助"""

_GROUP_EN = """

In groups I answer when you mention me, reply to one of my messages, or use a command.
Reply to any message with /translate or /summarize to act on it.
/digest [N] - summarize the last N messages of this group (default {n})"""

_GROUP_ZH = """

在群组里,提到我、回复我的消息或使用命令时我才会回答。
用 /translate 或 /summarize 回复任意消息即可处理那条消息。
/digest [N] - 总结本群最近 N 条消息(默认 {n} 条)"""

MESSAGES: Final[dict[str, dict[str, str]]] = {
    "start": {
        "en": "Hello{name}! I answer questions, chat, translate between English and Chinese "
              "and summarize, with small neural networks trained by whoever runs me.\n\n"
              + _HELP_EN,
        "zh": "你好{name}!我能回答问题、聊天、英汉互译和总结文字,用的是运行我的人自己训练的"
              "小型神经网络。\n\n" + _HELP_ZH,
    },
    "help": {"en": _HELP_EN, "zh": _HELP_ZH},
    "help_group": {"en": _GROUP_EN, "zh": _GROUP_ZH},
    "usage_ask": {"en": "Usage: /ask QUESTION", "zh": "用法:/ask 问题"},
    "usage_translate": {
        "en": "Usage: /translate TEXT or /translate en|zh TEXT (or reply to a message with "
              "/translate)",
        "zh": "用法:/translate 文本 或 /translate en|zh 文本(也可以用 /translate 回复一条消息)",
    },
    "usage_summarize": {
        "en": "Usage: /summarize TEXT (or reply to a message with /summarize)",
        "zh": "用法:/summarize 文本(也可以用 /summarize 回复一条消息)",
    },
    "usage_mode": {
        "en": "This chat's mode is {mode}. Usage: /mode auto|qa|chat|translate|summarize",
        "zh": "本聊天的模式是 {mode}。用法:/mode auto|qa|chat|translate|summarize",
    },
    "usage_lang": {
        "en": "My interface language for you is {lang}. Usage: /lang en|zh",
        "zh": "你的界面语言是 {lang}。用法:/lang en|zh",
    },
    "usage_digest": {
        "en": "Usage: /digest [N] with N from 1 to {max}", "zh": "用法:/digest [N],N 为 1 到 {max}",
    },
    "mode_set": {"en": "Mode set to {mode}.", "zh": "模式已设为 {mode}。"},
    "mode_admins_only": {
        "en": "Only the group's admins can change its mode.", "zh": "只有群管理员可以更改模式。",
    },
    "lang_set": {"en": "I will speak English with you.", "zh": "我会用中文和你交流。"},
    "digest_groups_only": {
        "en": "/digest works in groups: it summarizes the group's recent messages.",
        "zh": "/digest 只能在群组里使用:它总结群里最近的消息。",
    },
    "digest_empty": {
        "en": "There are no stored messages to summarize yet.", "zh": "还没有可以总结的消息。",
    },
    "digest_header": {
        "en": "Digest of the last {n} messages:", "zh": "最近 {n} 条消息摘要:",
    },
    "digest_privacy": {
        "en": "(Only messages addressed to me are stored here, so that is all I can summarize.)",
        "zh": "(这里只保存发给我的消息,所以只能总结这些。)",
    },
    "unknown_command": {
        "en": "I don't know {command}. /help lists what I can do.",
        "zh": "我不认识 {command}。/help 列出了我能做的事。",
    },
    "only_text": {"en": "Sorry, I only read text messages.", "zh": "抱歉,我只能读文字消息。"},
    "not_sure": {"en": "I'm not sure about that.", "zh": "这个我不太确定。"},
    "not_sure_closest": {
        "en": "I'm not sure. The closest thing I know: {answer}",
        "zh": "我不太确定。我知道的最接近的答案:{answer}",
    },
    "empty_answer": {"en": "I have no answer to that.", "zh": "这个我答不上来。"},
    "truncated": {
        "en": "(Your text was long; I read the first {n} characters.)",
        "zh": "(你的文字太长,我只读了前 {n} 个字符。)",
    },
    "rate_limited": {
        "en": "You are sending messages too fast. Please wait {seconds} seconds.",
        "zh": "你发消息太快了,请等 {seconds} 秒。",
    },
    "admins_only": {
        "en": "Sorry, only the bot's admins can use this command.",
        "zh": "抱歉,只有机器人的管理员可以使用这个命令。",
    },
    "not_allowed": {
        "en": "Sorry, this bot is private.", "zh": "抱歉,这是一个私人机器人。",
    },
    "timeout": {
        "en": "The model is busy and did not answer in time. Please try again in a moment.",
        "zh": "模型太忙,没能及时回答。请稍后再试。",
    },
    "unavailable": {
        "en": "The {task} model is not available yet. Please try again later.",
        "zh": "{task} 模型暂时不可用,请稍后再试。",
    },
    "error": {
        "en": "Sorry, something went wrong on my side. Please try again.",
        "zh": "抱歉,我这边出了点问题。请再试一次。",
    },
    # -- model versions and retraining (admins) ---------------------------------------------
    "models_usage": {
        "en": "Usage: /models [TASK] with TASK one of: {tasks}",
        "zh": "用法:/models [任务],任务为:{tasks}",
    },
    "models_task": {"en": "{task} (current: {current})", "zh": "{task}(当前:{current})"},
    "models_none": {"en": "{task}: no trained versions.", "zh": "{task}:还没有训练好的版本。"},
    "models_retrain": {
        "en": "Last retrain: #{run} {status} at {when}. Next scheduled: {next}.",
        "zh": "上次重训:#{run} {status},{when}。下次计划:{next}。",
    },
    "promote_usage": {"en": "Usage: /promote TASK VERSION", "zh": "用法:/promote 任务 版本"},
    "rollback_usage": {"en": "Usage: /rollback TASK", "zh": "用法:/rollback 任务"},
    "retrain_usage": {
        "en": "Usage: /retrain [TASK] with TASK one of: {tasks}",
        "zh": "用法:/retrain [任务],任务为:{tasks}",
    },
    "switched": {"en": "{task}: now serving {version}.", "zh": "{task}:现在使用 {version}。"},
    "switch_refused": {
        "en": "{task}: not switched ({reason}). {serving} keeps serving.",
        "zh": "{task}:没有切换({reason})。继续使用 {serving}。",
    },
    "swap_failed": {
        "en": "Version {version} of {task} failed to load, so the bot did not switch to it; "
              "{serving} keeps serving.\nReason: {reason}",
        "zh": "{task} 的版本 {version} 加载失败,所以没有切换;继续使用 {serving}。\n原因:{reason}",
    },
    "retrain_busy": {
        "en": "A retrain of {task} is running ({phase}). Try again when it is done.",
        "zh": "{task} 正在重训({phase})。请等它结束后再试。",
    },
    "retrain_phase_snapshot": {
        "en": "Retraining {task}: taking a snapshot of the training data...",
        "zh": "正在重训 {task}:保存训练数据快照……",
    },
    "retrain_phase_training": {
        "en": "Retraining {task}: training {percent}% (about {eta} left)",
        "zh": "正在重训 {task}:训练 {percent}%(约剩 {eta})",
    },
    "retrain_phase_evaluating": {
        "en": "Retraining {task}: training done; comparing the candidate with the serving "
              "version...",
        "zh": "正在重训 {task}:训练完成;正在比较候选版本和当前版本……",
    },
    "retrain_phase_switching": {
        "en": "Retraining {task}: the candidate passed the evaluation; switching to it...",
        "zh": "正在重训 {task}:候选版本通过评估;正在切换……",
    },
    "retrain_row": {
        "en": "{set}: {metric} {base} (serving) vs {candidate} (candidate), {n} examples",
        "zh": "{set}:{metric} {base}(当前)对 {candidate}(候选),{n} 个样本",
    },
    "retrain_promoted": {
        "en": "Retrain #{run} of {task}: promoted {candidate} (was {base}); {added} learned "
              "pairs in its data.\n{rows}",
        "zh": "{task} 重训 #{run}:已启用 {candidate}(原为 {base});数据中有 {added} "
              "条学到的问答。\n{rows}",
    },
    "retrain_rejected": {
        "en": "Retrain #{run} of {task}: candidate {candidate} is more than {tolerance} points "
              "worse than {base}, so it stays a candidate (/promote {task} {candidate} serves "
              "it anyway).\n{rows}",
        "zh": "{task} 重训 #{run}:候选版本 {candidate} 比 {base} 差了超过 {tolerance} 分,"
              "保留为候选(/promote {task} {candidate} 可强制启用)。\n{rows}",
    },
    "retrain_failed": {
        "en": "Retrain #{run} of {task} failed: {error}. The serving version is unchanged.",
        "zh": "{task} 重训 #{run} 失败:{error}。当前版本没有变化。",
    },
}

COMMAND_MENU: Final[dict[str, dict[str, str]]] = {
    "start": {"en": "Introduction", "zh": "介绍"},
    "help": {"en": "What I can do", "zh": "我能做什么"},
    "ask": {"en": "Answer a question", "zh": "回答问题"},
    "translate": {"en": "Translate English <-> Chinese", "zh": "英汉互译"},
    "summarize": {"en": "Summarize a text", "zh": "总结一段文字"},
    "mode": {"en": "What plain messages do here", "zh": "普通消息的处理方式"},
    "lang": {"en": "Interface language", "zh": "界面语言"},
    "digest": {"en": "Summarize the group's recent messages", "zh": "总结群里最近的消息"},
}
PRIVATE_MENU: Final = ("start", "help", "ask", "translate", "summarize", "mode", "lang")
GROUP_MENU: Final = ("help", "ask", "translate", "summarize", "digest", "mode", "lang")


def say(lang: str, key: str, /, **values: object) -> str:
    """The message ``key`` in ``lang`` (English when the language is unknown)."""
    variants = MESSAGES[key]
    template = variants.get(lang) or variants["en"]
    return template.format(**values) if values else template


def pick_language(chosen: str | None, telegram_code: str | None, default: str) -> str:
    """The /lang choice, else Chinese for a ``zh*`` Telegram language code, else the default."""
    if chosen in LANGUAGES:
        return chosen
    if telegram_code:
        code = telegram_code.lower()
        if code.startswith("zh"):
            return "zh"
        if code.startswith("en"):
            return "en"
    return default
