"""Train the qa dual encoder contrastively, calibrate it on the dev set, write a registry version.

    train_qa(QATrainOptions(budget_minutes=8))

The pairs come from ``model.qa_train_data`` and ``model.qa_pairs``, the step from
``model.qa_contrastive``. The embedding starts from PPMI-SVD vectors of the same corpora. Every
``eval_every`` steps the paraphrase dev set picks the best weights and the answer weight; then
a logistic calibration of (score, margin) and the threshold reaching ``target_precision`` on dev
are fitted (``model.qa_calibration``) and written into the model card.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from model.evaluate import evaluate_qa
from model.loading import prepare_tensorflow
from model.qa_calibration import calibrate, dev_weights, qa_rank_fn
from model.qa_train_data import QAData, QATrainOptions, load_qa_data, pseudo_bilingual_rows
from model.registry import Registry
from model.settings import default_data_dir, default_model_dir, settings_from_env
from model.task_specs import get_task
from model.tokenizer import Tokenizer, TokenizerSpec
from model.train import TrainResult

__all__ = ["QATrainOptions", "train_qa"]
log = logging.getLogger(__name__)


def train_qa(options: QATrainOptions) -> TrainResult:
    """Train, select on dev, calibrate, evaluate and write a new qa version."""
    import keras

    from model.encoders import ppmi_embeddings
    from model.qa_bank import LexicalIndex
    from model.qa_contrastive import ContrastiveTrainer
    from model.qa_encoder import DualEncoder, QAConfig
    from model.qa_pairs import PairSampler
    from model.qa_predictor import QAPredictor
    from model.token_rows import encode_texts

    prepare_tensorflow(settings_from_env())
    started = time.monotonic()
    spec = get_task(options.task)
    keras.utils.set_random_seed(options.seed)
    data_dir = Path(options.data_dir or default_data_dir() / "tasks" / spec.corpus)
    data = load_qa_data(options, data_dir)
    tokenizer = Tokenizer.train(data.tokenizer_texts, TokenizerSpec(vocab_size=options.vocab_size))
    config = QAConfig.from_dict({**QAConfig().to_dict(), **options.overrides,
                                 "vocab_size": tokenizer.vocab_size})
    model = DualEncoder.from_config_object(config)
    rows = encode_texts(tokenizer, data.tokenizer_texts + data.ppmi_texts, 64)
    rows += pseudo_bilingual_rows(tokenizer, data.parallel, options.seed)
    model.embedding.set_weights([ppmi_embeddings(rows, config.vocab_size, config.embed_dim)])
    model.embedding.trainable = not options.freeze_embedding
    log.info("qa: data and embeddings ready after %.0f s", time.monotonic() - started)

    sampler = PairSampler(data.bank, data.chat, data.paraphrases, options.seed,
                          real_share=options.real_share)
    trainer = ContrastiveTrainer(model, tokenizer, config, sampler, options.batch_size,
                                 options.learning_rate, options.scale)
    predictor = QAPredictor(model, tokenizer, config, spec.name)
    predictor.set_bank(data.bank, lexical=LexicalIndex.fit([q for q, _ in data.bank]))
    budget = options.budget_minutes * 60
    fit_start = time.monotonic()
    best: dict[str, Any] = {"exact_match": -1.0}
    history: list[dict[str, float]] = []
    while trainer.steps < options.max_steps and time.monotonic() - fit_start < budget:
        loss = trainer.run(min(options.eval_every, options.max_steps - trainer.steps))
        exact, weight, _ = dev_weights(predictor, data.bank, data.dev, (0.0,))
        point = {"step": trainer.steps, "loss": round(loss, 4), "dev_exact_match_rnn": exact,
                 "answer_weight": weight, "seconds": round(time.monotonic() - fit_start, 1)}
        history.append(point)
        if options.verbose:
            print(f"[qa] {point}", flush=True)
        if exact > best["exact_match"]:
            best = {"exact_match": exact, "step": trainer.steps, "weights": model.get_weights()}
    fit_seconds = time.monotonic() - fit_start
    if "weights" in best:
        model.set_weights(best["weights"])
    return _finish(options, spec.name, predictor, data, data_dir, started, fit_seconds,
                   trainer.steps, history, best.get("step"))


def _roundtrip_float16(predictor: Any) -> None:
    """Serve what will be shipped: weights rounded to float16, bank re-embedded with them."""
    predictor.model.set_weights([w.astype(np.float16).astype(np.float32)
                                 for w in predictor.model.get_weights()])


def _finish(options: QATrainOptions, task: str, predictor: Any, data: QAData, data_dir: Path,
            started: float, fit_seconds: float, steps: int, history: list[dict[str, float]],
            best_step: int | None) -> TrainResult:
    from model.qa_files import save_qa
    from model.train import _sha256

    _roundtrip_float16(predictor)
    rank = qa_rank_fn(predictor)
    _, rnn_weight, _ = dev_weights(predictor, data.bank, data.dev, (0.0,))
    rnn_only = {name: evaluate_qa(rank, data.bank, pairs)
                for name, pairs in (("dev", data.dev), ("test", data.test),
                                    ("test_low_overlap", data.low_overlap_test)) if pairs}
    dev_weights(predictor, data.bank, data.dev)  # hybrid: answer and lexical weights on dev
    calibration = calibrate(predictor, data.dev, options.target_precision)
    metrics = {
        "dev": evaluate_qa(rank, data.bank, data.dev),
        "test": evaluate_qa(rank, data.bank, data.test) if data.test else {},
        "test_low_overlap": evaluate_qa(rank, data.bank, data.low_overlap_test)
        if data.low_overlap_test else {},
        "test_verbatim": evaluate_qa(rank, data.bank, data.verbatim_test)
        if data.verbatim_test else {},
        "rnn_only": {"answer_weight": rnn_weight, **rnn_only},
    }
    registry = Registry(options.model_dir or default_model_dir())
    with registry.new_version(task) as (version, staging):
        predictor.version = version
        size = save_qa(predictor, staging)
        manifest = Path(options.corpora_dir or default_data_dir()) / "manifest.json"
        card = {
            "task": task,
            "version": version,
            "description": get_task(task).description,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "data": {
                "dir": str(data_dir),
                "manifest_sha256": _sha256(manifest) if manifest.is_file() else None,
                "bank_pairs": len(data.bank),
                "chat_pairs": len(data.chat),
                "paraphrase_pairs": len(data.paraphrases),
                "srai_pairs": sum(1 for *_, g in data.paraphrases if g.startswith("srai:")),
                "dev_file": str(options.dev_file or
                                "tests/fixtures/qa/{paraphrases,low-overlap}-dev.tsv"),
                "dev_pairs": len(data.dev),
                "test_pairs": len(data.test),
            },
            "tokenizer": {"type": "sentencepiece-unigram",
                          "vocab_size": predictor.tokenizer.vocab_size, "byte_fallback": True},
            "hyperparameters": {**predictor.config.to_dict(), "batch_size": options.batch_size,
                                "learning_rate": options.learning_rate, "scale": options.scale},
            "parameters": int(predictor.model.count_params()),
            "weights_bytes": size,
            "weights_dtype": "float16",
            "threshold": predictor.config.threshold,
            "calibration": calibration,
            "training": {"seconds": round(time.monotonic() - started, 1),
                         "fit_seconds": round(fit_seconds, 1), "steps": steps,
                         "best_step": best_step, "budget_minutes": options.budget_minutes,
                         "history": history},
            "metrics": metrics,
        }
        Registry.write_card(staging, card)
    promote = options.promote == "yes" or (options.promote == "auto"
                                           and registry.current(task) is None)
    if promote:
        registry.promote(task, version)
    return TrainResult(task, version, registry.version_dir(task, version), card, promote)
