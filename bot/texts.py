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
/exportme - all I have stored about you, as a file
/forgetme - delete everything I have stored about you
/help - this help

Rate my answers with 👍 or 👎. After a 👎, tell me the right answer:
an admin reviews it before I learn it."""

_HELP_ZH = """给我发任何文字,我会回答、翻译或总结。

/ask 问题 - 回答问题
/translate 文本 - 英汉互译(按文字判断方向)
/translate en|zh 文本 - 译成英文或中文
/summarize 文本 - 一句话摘要
/mode auto|qa|chat|translate|summarize - 普通消息在这里做什么
/lang en|zh - 界面语言
/exportme - 以文件形式导出我保存的关于你的全部数据
/forgetme - 删除我保存的关于你的全部数据
/help - 帮助

每个回答下面可以点 👍 或 👎;点 👎 后可以告诉我应该怎么回答,管理员审核后我才会学习。"""

_GROUP_EN = """

In groups I answer when you mention me, reply to one of my messages, or use a command.
Reply to any message with /translate or /summarize to act on it.
/digest [N] - summarize the last N messages of this group (default {n})"""

_GROUP_ZH = """

在群组里,提到我、回复我的消息或使用命令时我才会回答。
用 /translate 或 /summarize 回复任意消息即可处理那条消息。
/digest [N] - 总结本群最近 N 条消息(默认 {n} 条)"""

_ADMIN_EN = """

Admin commands (only for ADMIN_USER_IDS):
/teach QUESTION | ANSWER - add a fact to the answer bank now
/review - approve, edit or reject users' corrections
/retrain [TASK] - retrain a model now
/models [TASK] - model versions and their metrics
/promote TASK VERSION - serve another version
/rollback TASK - go back to the previous version
/status - uptime, queues, versions, retraining, database
/stats - usage, latency, 👍 rate, with a chart"""

_ADMIN_ZH = """

管理员命令(仅限 ADMIN_USER_IDS):
/teach 问题 | 答案 - 立即把一条知识加入答案库
/review - 批准、修改或拒绝用户的纠正
/retrain [任务] - 立即重新训练模型
/models [任务] - 模型版本及其指标
/promote 任务 版本 - 改用另一个版本
/rollback 任务 - 回到上一个版本
/status - 运行时间、队列、版本、训练和数据库
/stats - 使用量、延迟、👍 比例,附图表"""

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
    "help_admin": {"en": _ADMIN_EN, "zh": _ADMIN_ZH},
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
    "low_confidence": {
        "en": "(Low confidence: this may be wrong.)",
        "zh": "(把握不大,可能有误。)",
    },
    "dont_know": {"en": "I don't know that yet.", "zh": "这个我还不知道。"},
    "dont_know_teach": {
        "en": "I don't know that yet. An admin can teach me: /teach QUESTION | ANSWER",
        "zh": "这个我还不知道。管理员可以教我:/teach 问题 | 答案",
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
    # feedback and corrections
    "feedback_thanks": {"en": "Thanks for the feedback!", "zh": "谢谢你的反馈!"},
    "feedback_gone": {
        "en": "I can no longer find that answer.", "zh": "找不到那条回答了。",
    },
    "button_invalid": {
        "en": "This button is not valid here.", "zh": "这个按钮在这里无效。",
    },
    "correction_prompt": {
        "en": "What should I have said? Reply with the right answer.",
        "zh": "我应该怎么回答?请回复正确的答案。",
    },
    "correction_saved": {
        "en": "Thank you! An admin will review your correction before I learn it.",
        "zh": "谢谢!管理员审核你的纠正后我才会学习它。",
    },
    # teaching and review
    "usage_teach": {
        "en": "Usage: /teach QUESTION | ANSWER\nFor example: /teach Who maintains this bot? | "
              "Mara does.",
        "zh": "用法:/teach 问题 | 答案\n例如:/teach 谁在维护这个机器人? | Mara。",
    },
    "taught": {
        "en": "Learned. Asked \"{question}\", I will now answer: {answer}",
        "zh": "学会了。以后有人问“{question}”,我会回答:{answer}",
    },
    "taught_later": {
        "en": "Saved for the next training run, but the answer bank is not available right now, "
              "so I cannot answer it yet.",
        "zh": "已保存到下次训练的数据中,但答案库现在不可用,所以暂时还不能回答。",
    },
    "review_empty": {"en": "No corrections are waiting for review.", "zh": "没有待审核的纠正。"},
    "review_item": {
        "en": "Correction {position} of {total} (#{id})\n\nQuestion: {question}\n"
              "My answer ({task}): {answer}\nSuggested: {text}",
        "zh": "第 {position} 条,共 {total} 条(#{id})\n\n问题:{question}\n"
              "我的回答({task}):{answer}\n建议:{text}",
    },
    "review_approved": {
        "en": "Approved #{id}: the answer bank and the training data have it.",
        "zh": "已批准 #{id}:已加入答案库和训练数据。",
    },
    "review_approved_training": {
        "en": "Approved #{id}: it joins the {task} training data.",
        "zh": "已批准 #{id}:已加入 {task} 的训练数据。",
    },
    "review_rejected": {"en": "Rejected #{id}.", "zh": "已拒绝 #{id}。"},
    "review_decided": {
        "en": "#{id} was already reviewed.", "zh": "#{id} 已经审核过了。",
    },
    "review_private_only": {
        "en": "For the users' privacy, use /review in a private chat with me.",
        "zh": "为了保护用户隐私,请在与我的私聊中使用 /review。",
    },
    "review_missing": {
        "en": "There is no correction #{id}.", "zh": "没有编号为 #{id} 的纠正。",
    },
    "review_edit_prompt": {
        "en": "Send the answer to approve for #{id} instead of the suggestion.",
        "zh": "请发送要代替建议批准的 #{id} 的答案。",
    },
    "button_approve": {"en": "✅ Approve", "zh": "✅ 批准"},
    "button_edit": {"en": "✏️ Edit", "zh": "✏️ 修改"},
    "button_reject": {"en": "❌ Reject", "zh": "❌ 拒绝"},
    "button_next": {"en": "Next ▶", "zh": "下一条 ▶"},
    # privacy
    "forget_confirm": {
        "en": "This deletes every message, rating and correction of yours that I have stored, "
              "and keeps you out of all future training. It cannot be undone. Are you sure?",
        "zh": "这会删除我保存的你所有的消息、评价和纠正,并且以后的训练都不会再使用你的数据。"
              "此操作无法撤销。确定吗?",
    },
    "button_forget": {"en": "Yes, forget me", "zh": "是的,忘记我"},
    "button_cancel": {"en": "Cancel", "zh": "取消"},
    "forgotten": {
        "en": "Done. I deleted what I had stored of you (messages: {messages}, ratings: "
              "{feedback}, corrections: {corrections}), took {pairs} question-answer pair(s) "
              "made from your words out of my answers and training data, and you will never "
              "be part of my training data.",
        "zh": "完成。我删除了保存的你的数据(消息 {messages} 条、评价 {feedback} 个、纠正 "
              "{corrections} 条),从我的回答和训练数据中移除了由你的话产生的 {pairs} 个问答对,"
              "以后的训练数据也不会包含你。",
    },
    "forget_receipt": {
        "en": "Receipt: the first model versions trained without you: {versions}.",
        "zh": "回执:第一批不含你的数据训练出的模型版本:{versions}。",
    },
    "forget_receipt_pending": {
        "en": "Receipt: no model has been retrained since; the next retrain is the first "
              "without you. Send /forgetme again after it to see its version.",
        "zh": "回执:此后还没有重新训练过模型;下一次训练将是第一次不含你的数据。"
              "训练后再发送 /forgetme 可查看该版本。",
    },
    "forget_cancelled": {"en": "Cancelled; nothing was deleted.", "zh": "已取消,什么都没有删除。"},
    "forget_not_yours": {
        "en": "Only the person who asked can confirm this.", "zh": "只有发起请求的人可以确认。",
    },
    "export_private_only": {
        "en": "For your privacy, use /exportme in a private chat with me.",
        "zh": "为了保护隐私,请在与我的私聊中使用 /exportme。",
    },
    "export_caption": {
        "en": "Everything I have stored about you.", "zh": "我保存的关于你的全部数据。",
    },
    # status and stats
    "status": {
        "en": "Up for {uptime}.\nModels: {versions}\nQueues: {queues}\n"
              "Last retrain: {last}\nNext retrain: {next}\n"
              "Corrections waiting for review: {pending}\nDatabase: {db}\nDisk: {disk}",
        "zh": "已运行 {uptime}。\n模型:{versions}\n队列:{queues}\n"
              "上次训练:{last}\n下次训练:{next}\n待审核纠正:{pending}\n数据库:{db}\n"
              "磁盘:{disk}",
    },
    "status_replicas": {"en": "Replicas ({count}):\n{lines}", "zh": "副本({count}):\n{lines}"},
    "status_replica": {
        "en": "{name} {host}:{pid}{leader}: {versions}{failed}; {waiting} waiting, "
              "{handled} handled, seen {age} s ago",
        "zh": "{name} {host}:{pid}{leader}:{versions}{failed};等待 {waiting},已处理 {handled},"
              "{age} 秒前在线",
    },
    "status_leader": {"en": " (leader)", "zh": "(主)"},
    "status_failed": {"en": " (cannot load {versions})", "zh": "(无法加载 {versions})"},
    "status_disk": {"en": "models {models}, bot data {data}, {free} free",
                    "zh": "模型 {models},机器人数据 {data},剩余 {free}"},
    "none": {"en": "none", "zh": "无"},
    "not_scheduled": {"en": "not scheduled", "zh": "未安排"},
    "stats": {
        "en": "Last {days} days: {incoming} messages in, {answers} model answers.\n"
              "Per task: {tasks}\nPer day: {per_day}\n"
              "Latency (arrival to reply): {latency}\n👍 rate: {rate} ({up} 👍, {down} 👎)",
        "zh": "最近 {days} 天:收到 {incoming} 条消息,模型回答 {answers} 次。\n"
              "按任务:{tasks}\n按天:{per_day}\n延迟(收到到回复):{latency}\n"
              "👍 比例:{rate}({up} 👍,{down} 👎)",
    },
    "stats_caption": {
        "en": "Model answers per day, by task", "zh": "每天的模型回答数,按任务",
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
    "promote_unknown": {
        "en": "{task} has no version {version!r}. Its versions: {versions}.",
        "zh": "{task} 没有版本 {version!r}。可用的版本:{versions}。",
    },
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
    "fallback_loaded": {
        "en": "The current version {version} of {task} failed to load at start-up, so the bot "
              "serves the earlier version {serving} (the current pointer is unchanged).\n"
              "Reason: {reason}",
        "zh": "{task} 的当前版本 {version} 启动时加载失败,现在使用较早的版本 {serving}"
              "(current 指针未改)。\n原因:{reason}",
    },
    "retrain_busy": {
        "en": "A retrain of {task} is running ({phase}). Try again when it is done.",
        "zh": "{task} 正在重训({phase})。请等它结束后再试。",
    },
    "retrain_requested": {
        "en": "Retrain of {task} requested: the replica that runs retrains takes it now; this "
              "message will show its progress.",
        "zh": "已请求重训 {task}:负责重训的副本马上接手;本消息会显示进度。",
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
    "exportme": {"en": "Export my data", "zh": "导出我的数据"},
    "forgetme": {"en": "Delete my data", "zh": "删除我的数据"},
    "teach": {"en": "Admin: teach QUESTION | ANSWER", "zh": "管理员:教我 问题 | 答案"},
    "review": {"en": "Admin: review corrections", "zh": "管理员:审核纠正"},
    "retrain": {"en": "Admin: retrain a model", "zh": "管理员:重新训练模型"},
    "models": {"en": "Admin: model versions", "zh": "管理员:模型版本"},
    "promote": {"en": "Admin: serve a version", "zh": "管理员:启用某个版本"},
    "rollback": {"en": "Admin: previous version", "zh": "管理员:回到上一版本"},
    "status": {"en": "Admin: bot status", "zh": "管理员:运行状态"},
    "stats": {"en": "Admin: usage statistics", "zh": "管理员:使用统计"},
}
PRIVATE_MENU: Final = ("start", "help", "ask", "translate", "summarize", "mode", "lang",
                       "exportme", "forgetme")
GROUP_MENU: Final = ("help", "ask", "translate", "summarize", "digest", "mode", "lang")
# Shown only in the private chats of ADMIN_USER_IDS (BotCommandScopeChat).
ADMIN_MENU: Final = (*PRIVATE_MENU, "teach", "review", "retrain", "models", "promote",
                     "rollback", "status", "stats")


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
