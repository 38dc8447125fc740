"""The text a language model reads: corpus loading, tokens, vocabulary and batches.

Introduced in notebook 05 (language_model); notebook 06 (transformer), the `lm` and `sweep`
commands and `lm_training.py` use it too.

- `load_corpus`: the default corpus, `pydoc`, is English prose pinned like code: the help texts
  of CPython 3.11.7 (`pydoc_data.topics`), frozen in `tying_utils/data/` (source, licence and
  sha256 in its README), so every Python reads the same tokens, offline. `python-help` reads the
  running Python's own help texts instead (they differ between versions). A plain text file (split
  80/10/10 into train/valid/test) or a folder with `train.txt`, `valid.txt`, `test.txt` (the
  WikiText layout) works too.
- `tokenize`, `Vocabulary`, `prepare`: words and punctuation marks, lower-cased; the vocabulary is
  built from the training split only, and every other word becomes `<unk>`.
- `batchify`, `bptt_chunks`: rows of text read in chunks (truncated backpropagation through time).
"""

from __future__ import annotations

import gzip
import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "UNK", "Corpus", "load_corpus", "tokenize", "Vocabulary", "LMData", "prepare", "batchify",
    "bptt_chunks",
]

UNK = "<unk>"
DEFAULT_CORPUS_FILE = Path(__file__).parent / "data" / "pydoc_topics_3.11.7.txt.gz"
DEFAULT_CORPUS_SHA256 = "71f2ff5d99bdc1f9c48c5c2353ad138201c5ca1c377e0226857ef8fa89b8bcee"
SPLIT_FILES = ("train.txt", "valid.txt", "test.txt")
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)  # a single text file is cut into train / valid / test

# A token is `<unk>` (WikiText writes it), a word with an optional apostrophe part ("don't"),
# or a run of one punctuation mark (a heading's underline `*****` is one token, cut to 3 marks).
TOKEN = re.compile(r"<unk>|\w+(?:'\w+)?|([^\w\s])\1*")


# --- corpus ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Corpus:
    """A corpus as three token lists, with where it came from and a fingerprint of its text."""

    name: str
    train: list[str]
    valid: list[str]
    test: list[str]
    characters: int
    sha256: str

    def describe(self) -> str:
        sizes = ", ".join(f"{len(getattr(self, s)):,} {s}" for s in ("train", "valid", "test"))
        return (f"{self.name}: {self.characters:,} characters, {sizes} tokens, "
                f"sha256 {self.sha256[:12]}")


def tokenize(text: str) -> list[str]:
    """Lower-case words and punctuation marks: `tokenize("Don't panic!")` is
    `["don't", "panic", "!"]`."""
    return [m.group(0) if m.group(1) is None else m.group(0)[:3]
            for m in TOKEN.finditer(text.lower())]


def load_corpus(source: str | Path = "pydoc") -> Corpus:
    """The corpus `source` names: "pydoc" (the default: CPython 3.11.7's help texts, shipped with
    this package, the same on every Python), "jargon" (the Jargon File 4.4.7, shipped too),
    "python-help" (the running Python's own help texts, which change between versions), a UTF-8
    text file (cut into 80% train, 10% valid, 10% test, in order), or a folder holding train.txt,
    valid.txt and test.txt."""
    if str(source) in SHIPPED:
        return _split_text(str(source), shipped_text(str(source)))
    if str(source) == "python-help":
        from pydoc_data.topics import topics  # this Python's help texts: ~465k characters

        text = "\n\n".join(topics[key] for key in sorted(topics))  # sorted: same order everywhere
        return _split_text("python-help", text)
    path = Path(source)
    if path.is_dir():
        for name in SPLIT_FILES:
            if (path / name).is_dir():
                raise ValueError(f"{str(path / name)!r} is a folder: a corpus folder needs "
                                 f"train.txt, valid.txt and test.txt as text files.")
            if (path / name).exists() and not (path / name).is_file():
                raise ValueError(f"{str(path / name)!r} is not a regular file (a device, a pipe "
                                 f"or a socket): a corpus split must be a text file.")
        missing = [name for name in SPLIT_FILES if not (path / name).is_file()]
        if missing:
            raise ValueError(
                f"the folder {str(path)!r} lacks {' and '.join(missing)}: a corpus folder needs "
                f"train.txt, valid.txt and test.txt (the WikiText layout)."
            )
        texts = [_read_text(path / name) for name in SPLIT_FILES]
        splits = [tokenize(text) for text in texts]
        for name, tokens in zip(SPLIT_FILES, splits):
            if not tokens:
                raise ValueError(f"{str(path / name)!r} has no words: each split needs text.")
        joined = "".join(texts)
        return Corpus(path.name, *splits, characters=len(joined), sha256=_sha256(joined))
    if path.is_file():
        return _split_text(path.name, _read_text(path))
    if path.exists():
        raise ValueError(f"{str(path)!r} is not a regular file or a folder (a device, a pipe or "
                         f"a socket): give 'pydoc', 'python-help', a text file, or a corpus "
                         f"folder.")
    raise ValueError(
        f"no corpus at {str(path)!r}: give 'pydoc', 'python-help', 'jargon', a text file, or a "
        f"folder with train.txt, valid.txt and test.txt."
    )


# Corpora shipped inside the package: name → (file in tying_utils/data, sha256 of its text).
# "pydoc": CPython 3.11.7's help texts (data/README.md). "jargon": the Jargon File 4.4.7 (Eric S.
# Raymond, public domain), as Debian's package jargon-text 4.4.7-4.1 ships it (jargon.txt.gz,
# copied unchanged): 1,618,757 characters of English about computing and hacker culture, a second
# corpus unlike Python's help texts (data/JARGON.md).
SHIPPED = {"pydoc": (DEFAULT_CORPUS_FILE.name, DEFAULT_CORPUS_SHA256),
           "jargon": ("jargon-4.4.7.txt.gz",
                      "40dfb4b98191a670a09a183d5798d50f243d23fdbd1495dcc0aca2ce5895ba97")}


def shipped_text(name: str) -> str:
    """The text of the shipped corpus `name`, checked against its recorded sha256."""
    file, sha256 = SHIPPED[name]
    text = gzip.decompress((Path(__file__).parent / "data" / file).read_bytes()).decode("utf-8")
    if _sha256(text) != sha256:
        raise ValueError(f"the shipped corpus {name!r} does not match its sha256: reinstall "
                         f"tying_utils.")
    return text


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as error:  # e.g. no permission to read it
        raise ValueError(f"cannot read {str(path)!r} ({error.strerror or error}): a corpus "
                         f"file must be readable.") from None
    if b"\0" in data:
        raise ValueError(f"{str(path)!r} looks binary (it contains NUL bytes): give a UTF-8 "
                         f"text file.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{str(path)!r} is not UTF-8 text (bad byte at position "
                         f"{error.start}): give a UTF-8 text file.") from None
    if not text.strip():
        raise ValueError(f"{str(path)!r} is empty: a corpus needs text.")
    return text


def _split_text(name: str, text: str) -> Corpus:
    tokens = tokenize(text)
    cut_valid = int(SPLIT_FRACTIONS[0] * len(tokens))
    cut_test = int((SPLIT_FRACTIONS[0] + SPLIT_FRACTIONS[1]) * len(tokens))
    if len(tokens) < 20:
        count = f"{len(tokens)} token" + ("" if len(tokens) == 1 else "s")
        raise ValueError(f"{name!r} has only {count}: a corpus to split into train, valid and "
                         f"test needs at least 20.")
    return Corpus(name, tokens[:cut_valid], tokens[cut_valid:cut_test], tokens[cut_test:],
                  characters=len(text), sha256=_sha256(text))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- vocabulary and batches -----------------------------------------------------------------------

class Vocabulary:
    """Word ↔ id, built from training tokens: `<unk>` is id 0, then the `cap - 1` most frequent
    words (ties in alphabetical order). `counts[i]` is how often word `i` occurs in training;
    `counts[0]` counts the tokens that became `<unk>`."""

    def __init__(self, tokens: list[str], cap: int):
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 2:
            raise ValueError(f"the vocabulary cap must be a whole number >= 2 (<unk> and at least "
                             f"one word), got {cap!r}.")
        frequency = Counter(tokens)
        kept = sorted((w for w in frequency if w != UNK), key=lambda w: (-frequency[w], w))
        self.words = [UNK, *kept[: cap - 1]]
        self.ids = {word: i for i, word in enumerate(self.words)}
        self.counts = np.array([0, *(frequency[w] for w in self.words[1:])], dtype=np.int64)
        self.counts[0] = len(tokens) - int(self.counts[1:].sum())

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, tokens: list[str]) -> torch.Tensor:
        return torch.tensor([self.ids.get(t, 0) for t in tokens], dtype=torch.long)

    def decode(self, ids) -> list[str]:
        return [self.words[int(i)] for i in ids]


@dataclass(frozen=True)
class LMData:
    """A corpus turned into ids: the vocabulary and one id tensor per split."""

    corpus: Corpus
    vocab: Vocabulary
    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor


def prepare(corpus: Corpus, vocab_cap: int = 2000) -> LMData:
    """Build the vocabulary from `corpus.train` and encode all three splits."""
    vocab = Vocabulary(corpus.train, vocab_cap)
    return LMData(corpus, vocab, *(vocab.encode(getattr(corpus, s))
                                   for s in ("train", "valid", "test")))


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut a 1-D stream of ids into `batch_size` rows of equal length (the tail that does not fit
    is dropped): row `b` is one contiguous stretch of text, read left to right."""
    columns = len(ids) // batch_size
    if columns < 2:
        raise ValueError(f"{len(ids)} tokens are too few for batch size {batch_size}: each row "
                         f"needs at least 2 tokens.")
    return ids[: batch_size * columns].view(batch_size, columns)


def bptt_chunks(batched: torch.Tensor, bptt: int):
    """Yield `(inputs, targets)` pairs of shape `(batch, ≤ bptt)`: targets are inputs shifted one
    token to the left, so the model predicts each next token."""
    for start in range(0, batched.shape[1] - 1, bptt):
        length = min(bptt, batched.shape[1] - 1 - start)
        yield batched[:, start : start + length], batched[:, start + 1 : start + 1 + length]
