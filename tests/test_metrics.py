import numpy as np
import pytest

from nlp_lstm import metrics
from nlp_lstm.errors import NlpLstmError
from nlp_lstm.metrics import classification_report
from nlp_lstm.models.sentiment import build_sentiment_classifier
from nlp_lstm.recipes.sentiment.recipe import label_ids


def test_multiclass_report():
    labels = ["bad", "good", "neutral"]
    report = classification_report([0, 1, 2, 2, 1], [0, 1, 2, 1, 1], labels)
    assert report["accuracy"] == pytest.approx(0.8)
    assert report["per_class"]["neutral"] == {
        "precision": 1.0,
        "recall": 0.5,
        "f1": pytest.approx(2 / 3),
        "support": 2,
    }
    assert report["macro_f1"] == pytest.approx((1.0 + 0.8 + 2 / 3) / 3)
    assert report["confusion_matrix"] == [[1, 0, 0], [0, 2, 0], [0, 1, 1]]


def test_string_and_integer_labels_map_to_ids():
    np.testing.assert_array_equal(label_ids(["2", "0", "1"], ["0", "1", "2"], "x"), [2, 0, 1])
    with pytest.raises(NlpLstmError, match=r"has labels \['3'\] that the model does not know"):
        label_ids(["3"], ["0", "1", "2"], "my.tsv")


def test_classifier_outputs_one_probability_per_class():
    model = build_sentiment_classifier(50, 5, embedding_dim=8, units=4, layers=2)
    probabilities = np.asarray(model(np.array([[5, 6, 3, 0], [7, 3, 0, 0]], "int32")))
    assert probabilities.shape == (2, 5)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_translation_scores_take_every_reference_of_a_sentence():
    hypotheses = ["Él corrió a la estación.", "Tengo mucha hambre hoy."]
    second = [
        ["Corrió hasta la estación.", "Él corrió a la estación."],
        ["Tengo mucha hambre hoy."],
    ]
    one = metrics.translation_scores(hypotheses, [[refs[0]] for refs in second])
    both = metrics.translation_scores(hypotheses, second)
    assert both["bleu"] == pytest.approx(100.0) and one["bleu"] < 80.0
    assert both["chrf"] > one["chrf"] and both["references"] == 2


def test_translation_scores_also_report_bleu_lowercased_without_punctuation():
    scores = metrics.translation_scores(
        ["¿dónde está la estación de tren"], [["¿Dónde está la estación de tren?"]]
    )
    assert scores["bleu_lowercase_nopunct"] == pytest.approx(100.0)
    assert scores["bleu"] < 70.0
    assert metrics.plain_text("¿Dónde  está, Ana?") == "dónde está ana"
    with pytest.raises(ValueError):
        metrics.translation_scores(["a"], [[]])
