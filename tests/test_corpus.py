"""`corpus.load_corpus` refuses every unusable corpus with one sentence that names the file
(tests/test_lm.py holds the tests of tokens, splits and batches)."""

from __future__ import annotations

import os

import pytest

from tying_utils.corpus import DEFAULT_CORPUS_FILE, DEFAULT_CORPUS_SHA256, load_corpus

WORDS = "the cat sat on the mat and the dog slept on the rug . " * 4


def corpus_folder(root, **texts):
    """A folder with train.txt, valid.txt and test.txt; `texts` replaces any of them."""
    folder = root / "corpus"
    folder.mkdir()
    for split in ("train", "valid", "test"):
        text = texts.get(split, WORDS)
        if text is not None:
            (folder / f"{split}.txt").write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize(("words", "count"),
                         [(1, "1 token:"), (2, "2 tokens:"), (19, "19 tokens:")])
def test_a_short_text_says_how_many_tokens_it_has(tmp_path, words, count):
    path = tmp_path / "short.txt"
    path.write_text(" ".join(["word"] * words), encoding="utf-8")
    with pytest.raises(ValueError, match=f"'short.txt' has only {count} a corpus to split"):
        load_corpus(path)


def test_twenty_tokens_are_enough(tmp_path):
    path = tmp_path / "twenty.txt"
    path.write_text(" ".join(["word"] * 20), encoding="utf-8")
    corpus = load_corpus(path)
    assert (len(corpus.train), len(corpus.valid), len(corpus.test)) == (16, 2, 2)


def test_a_split_that_is_a_folder_is_named_as_a_folder(tmp_path):
    folder = corpus_folder(tmp_path, valid=None)
    (folder / "valid.txt").mkdir()
    with pytest.raises(ValueError, match=r"valid\.txt' is a folder: a corpus folder needs"):
        load_corpus(folder)


def test_a_split_that_is_missing_is_named(tmp_path):
    folder = corpus_folder(tmp_path, test=None)
    with pytest.raises(ValueError, match="lacks test.txt: a corpus folder needs"):
        load_corpus(folder)


@pytest.mark.parametrize("split", ["train", "valid", "test"])
def test_an_empty_split_is_named(tmp_path, split):
    folder = corpus_folder(tmp_path, **{split: " \n"})
    with pytest.raises(ValueError, match=f"{split}.txt' is empty: a corpus needs text"):
        load_corpus(folder)


def test_a_binary_split_is_named(tmp_path):
    folder = corpus_folder(tmp_path)
    (folder / "test.txt").write_bytes(b"\x7fELF\x02\x01\x00\x00")
    with pytest.raises(ValueError, match="test.txt' looks binary"):
        load_corpus(folder)


@pytest.mark.skipif(not os.path.exists(os.devnull), reason="no null device here")
def test_a_device_is_not_a_corpus(tmp_path):
    with pytest.raises(ValueError, match="is not a regular file or a folder"):
        load_corpus(os.devnull)
    folder = corpus_folder(tmp_path, train=None)
    (folder / "train.txt").symlink_to(os.devnull)
    with pytest.raises(ValueError, match="train.txt' is not a regular file"):
        load_corpus(folder)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its permissions, so "
                    "an unreadable file cannot be made when the tests run as root")
def test_an_unreadable_file_is_named(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text(WORDS, encoding="utf-8")
    path.chmod(0o000)
    try:
        with pytest.raises(ValueError, match="cannot read '.*secret.txt' \\(Permission denied\\)"):
            load_corpus(path)
    finally:
        path.chmod(0o600)


# --- the default corpus is pinned like code -----------------------------------------------------

def test_default_corpus_is_the_shipped_text_with_its_stated_sha256():
    """The same tokens on every Python: the text comes from the package, not from the running
    Python, and its fingerprint is the one tying_utils/data/README.md states."""
    corpus = load_corpus()
    assert corpus.name == "pydoc" and corpus.sha256 == DEFAULT_CORPUS_SHA256
    assert corpus.characters == 465_126
    readme = (DEFAULT_CORPUS_FILE.parent / "README.md").read_text(encoding="utf-8")
    assert DEFAULT_CORPUS_SHA256 in readme and "465,126 characters" in readme
    assert (DEFAULT_CORPUS_FILE.parent / "PYTHON-LICENSE.txt").read_text().count("PSF") > 3
    assert (len(corpus.train), len(corpus.valid), len(corpus.test)) == (77_882, 9_735, 9_736)


def test_python_help_reads_the_running_pythons_own_texts():
    from pydoc_data.topics import topics

    corpus = load_corpus("python-help")
    assert corpus.name == "python-help"
    assert corpus.characters == len("\n\n".join(topics[k] for k in sorted(topics)))
