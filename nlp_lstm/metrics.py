"""Evaluation figures: accuracy, macro-F1 and confusion matrices; BLEU and chrF."""

from __future__ import annotations

import re

import numpy as np

_PUNCTUATION = re.compile(r"[^\w\s]")


def confusion_matrix(true_ids, predicted_ids, num_classes: int) -> np.ndarray:
    """``[true, predicted]`` counts."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(true_ids), np.asarray(predicted_ids)), 1)
    return matrix


def classification_report(true_ids, predicted_ids, labels: list[str]) -> dict:
    """Accuracy, macro-F1 and per-class precision/recall/F1.

    Classes absent from both truth and predictions are left out of the macro average.
    """
    matrix = confusion_matrix(true_ids, predicted_ids, len(labels))
    true_positive = np.diag(matrix).astype(float)
    predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)
    precision = np.divide(
        true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0
    )
    recall = np.divide(true_positive, actual, out=np.zeros_like(true_positive), where=actual > 0)
    denominator = precision + recall
    f1 = np.divide(
        2 * precision * recall, denominator, out=np.zeros_like(true_positive), where=denominator > 0
    )
    present = (predicted + actual) > 0
    return {
        "examples": int(matrix.sum()),
        "accuracy": float(true_positive.sum() / max(matrix.sum(), 1)),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "per_class": {
            label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, actual)
        },
        "confusion_matrix": matrix.tolist(),
    }


def translation_scores(hypotheses: list[str], references: list[list[str]]) -> dict:
    """Corpus BLEU and chrF of detokenized ``hypotheses``, each against all of its
    references (``sacrebleu`` defaults: 13a tokenization, chrF with character 6-grams),
    cased, and BLEU again lowercased with punctuation removed (how the TensorFlow and
    keras-io tutorials score, for comparison with them).

    Args:
        hypotheses: one translation per source sentence.
        references: for each hypothesis, its reference translations (at least one).

    Returns:
        ``{"bleu", "chrf", "bleu_lowercase_nopunct", "sentences", "references",
        "bleu_signature", "chrf_signature"}``; ``references`` is the largest number of
        references of one sentence.
    """
    import sacrebleu

    if len(hypotheses) != len(references) or not all(references):
        raise ValueError("every hypothesis needs at least one reference")
    streams = _reference_streams(references)
    bleu = sacrebleu.metrics.BLEU()
    chrf = sacrebleu.metrics.CHRF()
    plain = sacrebleu.metrics.BLEU()
    return {
        "bleu": bleu.corpus_score(hypotheses, streams).score,
        "chrf": chrf.corpus_score(hypotheses, streams).score,
        "bleu_lowercase_nopunct": plain.corpus_score(
            [plain_text(h) for h in hypotheses],
            _reference_streams([[plain_text(r) for r in refs] for refs in references]),
        ).score,
        "sentences": len(hypotheses),
        "references": max(len(refs) for refs in references),
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
    }


def plain_text(text: str) -> str:
    """``text`` lowercased, punctuation removed, spaces collapsed: ``"¿Dónde está?"`` ->
    ``"dónde está"``."""
    return " ".join(_PUNCTUATION.sub(" ", text.lower()).split())


def _reference_streams(references: list[list[str]]) -> list[list[str | None]]:
    """sacrebleu's layout: stream ``k`` holds every sentence's ``k``-th reference (``None``
    where a sentence has fewer)."""
    count = max(len(refs) for refs in references)
    return [[refs[k] if k < len(refs) else None for refs in references] for k in range(count)]
