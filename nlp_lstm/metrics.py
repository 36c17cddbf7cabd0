"""Evaluation figures: accuracy, macro-F1 and confusion matrices; BLEU and chrF."""

from __future__ import annotations

import numpy as np


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
    precision = np.divide(true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0)
    recall = np.divide(true_positive, actual, out=np.zeros_like(true_positive), where=actual > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(true_positive),
                   where=denominator > 0)
    present = (predicted + actual) > 0
    return {
        "examples": int(matrix.sum()),
        "accuracy": float(true_positive.sum() / max(matrix.sum(), 1)),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "per_class": {label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                      for label, p, r, f, s in zip(labels, precision, recall, f1, actual)},
        "confusion_matrix": matrix.tolist(),
    }


def translation_scores(hypotheses: list[str], references: list[str]) -> dict:
    """Corpus BLEU and chrF of detokenized ``hypotheses`` against one reference each
    (``sacrebleu`` defaults: 13a tokenization, chrF with character 6-grams).

    Returns:
        ``{"bleu", "chrf", "sentences", "bleu_signature", "chrf_signature"}``.
    """
    import sacrebleu

    bleu = sacrebleu.metrics.BLEU()
    chrf = sacrebleu.metrics.CHRF()
    return {"bleu": bleu.corpus_score(hypotheses, [references]).score,
            "chrf": chrf.corpus_score(hypotheses, [references]).score,
            "sentences": len(hypotheses),
            "bleu_signature": str(bleu.get_signature()),
            "chrf_signature": str(chrf.get_signature())}
