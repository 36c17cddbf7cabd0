"""``make demo``: what the toolkit does today, end to end, on the bundled corpora."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from nlp_lstm import cli


def main() -> int:
    start = time.time()
    print("== Bundled corpora")
    cli.main(["corpora"])
    with tempfile.TemporaryDirectory() as tmp:
        print("\n== A SentencePiece tokenizer trained on the Rotten Tomatoes training split")
        cli.main(["tokenizer", "--corpus", "rotten_tomatoes", "--vocabulary-size", "8000",
                  "--output", str(Path(tmp) / "rotten_tomatoes.model"),
                  "--encode", "An unexpectedly moving film.", "Ein überraschend bewegender Film."])
        print("\n== A joint English-German tokenizer trained on the Ding training split")
        cli.main(["tokenizer", "--corpus", "ding_en_de", "--vocabulary-size", "8000",
                  "--output", str(Path(tmp) / "ding.model"),
                  "--encode", "Where is the station?", "Wo ist der Bahnhof?"])
    print(f"\ndemo finished in {time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
