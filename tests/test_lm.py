"""The language-model helpers of notebook 05: corpus, vocabulary, batches, model, training."""

from __future__ import annotations

import dataclasses
import math
import random

import numpy as np
import pytest
import torch
from torch import nn

from tying_utils.corpus import (
    UNK,
    Vocabulary,
    batchify,
    bptt_chunks,
    load_corpus,
    prepare,
    tokenize,
)
from tying_utils.lm_training import (
    VARIANTS,
    LMConfig,
    LMRun,
    build_lm,
    compare_variants,
    nearest_neighbours,
    neighbour_overlap,
    perplexity,
    train_lm,
)
from tying_utils.recurrent_lm import RecurrentLM, lm_parameter_count, size_matched_dim
from tying_utils.tying import assert_tied, count_parameters

WORDS = ["the", "cat", "dog", "sat", "ran", "on", "a", "mat", "log", "and", "then", "slept"]


def tiny_text(sentences: int = 300, seed: int = 0) -> str:
    """A small made-up corpus with a little grammar, so a model can learn something."""
    rng = random.Random(seed)
    lines = []
    for _ in range(sentences):
        subject, verb, place = rng.choice(["cat", "dog"]), rng.choice(["sat", "ran"]), \
            rng.choice(["mat", "log"])
        lines.append(f"the {subject} {verb} on a {place} and then slept .")
    return "\n".join(lines)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "tiny.txt"
    path.write_text(tiny_text(), encoding="utf-8")
    return prepare(load_corpus(path), vocab_cap=50)


TINY = LMConfig(dim=8, hidden=8, dropout=0.0, bptt=6, batch_size=4, lr=1.0, epochs=1)


# --- tokens and corpus ----------------------------------------------------------------------------

def test_tokenize_words_apostrophes_punctuation_and_runs():
    assert tokenize("Don't panic!") == ["don't", "panic", "!"]
    assert tokenize("A <unk> b") == ["a", "<unk>", "b"]
    assert tokenize("Title\n*********\n") == ["title", "***"]
    assert tokenize("x == y") == ["x", "==", "y"]


def test_pydoc_corpus_loads_splits_in_order_and_is_deterministic():
    corpus = load_corpus("pydoc")
    total = len(corpus.train) + len(corpus.valid) + len(corpus.test)
    assert total > 50_000 and corpus.characters > 300_000
    assert len(corpus.train) / total == pytest.approx(0.8, abs=0.01)
    assert len(corpus.valid) / total == pytest.approx(0.1, abs=0.01)
    assert load_corpus().sha256 == corpus.sha256 and len(corpus.sha256) == 64
    assert "sha256" in corpus.describe() and corpus.name == "pydoc"


def test_text_file_is_split_80_10_10_into_contiguous_parts(tmp_path):
    text = tiny_text(50)
    path = tmp_path / "book.txt"
    path.write_text(text, encoding="utf-8")
    corpus = load_corpus(path)
    assert corpus.train + corpus.valid + corpus.test == tokenize(text)
    n = len(tokenize(text))
    assert len(corpus.train) == int(0.8 * n) and len(corpus.valid) == int(0.9 * n) - int(0.8 * n)


def test_folder_with_three_files_loads_each_split(tmp_path):
    for name, sentence in (("train", "a b c"), ("valid", "d e"), ("test", "f")):
        (tmp_path / f"{name}.txt").write_text(sentence, encoding="utf-8")
    corpus = load_corpus(tmp_path)
    assert (corpus.train, corpus.valid, corpus.test) == (["a", "b", "c"], ["d", "e"], ["f"])


def test_missing_path_is_one_clear_sentence(tmp_path):
    with pytest.raises(ValueError,
                       match=r"no corpus at .*'pydoc', 'python-help', 'jargon', a text file"):
        load_corpus(tmp_path / "nowhere.txt")


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"   \n\t ", "is empty"),
    (b"text\x00with a NUL", "looks binary"),
    (b"caf\xe9 au lait", "is not UTF-8"),
    (b"only a few words here", "only 5 tokens"),
])
def test_bad_text_files_are_refused(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        load_corpus(path)


def test_folder_without_the_three_files_names_the_missing_ones(tmp_path):
    (tmp_path / "train.txt").write_text("some words", encoding="utf-8")
    with pytest.raises(ValueError, match="lacks valid.txt and test.txt"):
        load_corpus(tmp_path)


def test_folder_with_an_empty_split_is_refused(tmp_path):
    for name in ("train", "valid", "test"):
        (tmp_path / f"{name}.txt").write_text("words" if name != "test" else " . ",
                                              encoding="utf-8")
    assert load_corpus(tmp_path).test == ["."]
    (tmp_path / "test.txt").write_text("\n", encoding="utf-8")
    with pytest.raises(ValueError, match="test.txt' is empty"):
        load_corpus(tmp_path)


# --- vocabulary and batches -----------------------------------------------------------------------

def test_vocabulary_keeps_the_most_frequent_words_and_maps_the_rest_to_unk():
    tokens = ["a"] * 5 + ["b"] * 3 + ["c"] * 3 + ["d"]
    vocab = Vocabulary(tokens, cap=3)
    assert vocab.words == [UNK, "a", "b"]  # b and c tie at 3: alphabetical order decides
    assert vocab.encode(["a", "c", "zebra", "b"]).tolist() == [1, 0, 0, 2]
    assert vocab.counts.tolist() == [4, 5, 3] and vocab.counts.sum() == len(tokens)
    assert vocab.decode([2, 1, 0]) == ["b", "a", UNK]
    assert len(Vocabulary(tokens, cap=100)) == 5


@pytest.mark.parametrize("cap", [1, 0, -3, 2.5, True])
def test_vocabulary_cap_below_two_is_refused(cap):
    with pytest.raises(ValueError, match="vocabulary cap must be a whole number >= 2"):
        Vocabulary(["a", "b"], cap)


def test_prepare_builds_the_vocabulary_from_train_only(tmp_path):
    for name, text in (("train", "a a b"), ("valid", "c a"), ("test", "b c")):
        (tmp_path / f"{name}.txt").write_text(text, encoding="utf-8")
    data = prepare(load_corpus(tmp_path), vocab_cap=10)
    assert data.vocab.words == [UNK, "a", "b"]
    assert data.valid.tolist() == [0, 1] and data.test.tolist() == [2, 0]


def test_batchify_makes_contiguous_rows_and_drops_the_tail():
    batched = batchify(torch.arange(23), 4)
    assert batched.shape == (4, 5)
    assert batched[1].tolist() == [5, 6, 7, 8, 9]
    with pytest.raises(ValueError, match="too few for batch size 4"):
        batchify(torch.arange(7), 4)


def test_bptt_chunks_cover_the_rows_with_targets_shifted_by_one():
    batched = batchify(torch.arange(40), 2)  # rows of 20
    chunks = list(bptt_chunks(batched, 6))
    assert [x.shape for x, _ in chunks] == [(2, 6), (2, 6), (2, 6), (2, 1)]
    for inputs, targets in chunks:
        assert torch.equal(targets, inputs + 1)
    assert torch.cat([x for x, _ in chunks], dim=1).shape[1] == 19  # every token but the last


# --- the model ------------------------------------------------------------------------------------

def test_tying_with_hidden_not_equal_to_embedding_is_one_clear_sentence():
    with pytest.raises(ValueError, match="hidden 12 and embedding 8"):
        RecurrentLM(20, 8, 12, tied=True)
    RecurrentLM(20, 8, 12, tied=False)  # untied models may differ


@pytest.mark.parametrize("bad, message", [
    (dict(cell="rnn"), "unknown cell 'rnn'"),
    (dict(dropout=1.0), "dropout must be in"),
    (dict(layers=0), "layers must be a whole number"),
])
def test_bad_model_settings_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        RecurrentLM(20, 8, 8, tied=True, **bad)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_tied_model_shares_one_matrix_and_returns_logits(cell):
    model = RecurrentLM(30, 8, 8, tied=True, cell=cell)
    assert_tied(model, "embedding.weight", "head.weight")
    logits, state = model(torch.randint(0, 30, (3, 5)))
    assert logits.shape == (3, 5, 30)
    logits, _ = model(torch.randint(0, 30, (3, 2)), state)  # the state carries over
    assert logits.shape == (3, 2, 30)


def test_one_seed_gives_tied_and_untied_the_same_recurrent_weights_and_head():
    torch.manual_seed(3)
    tied = RecurrentLM(30, 8, 8, tied=True)
    torch.manual_seed(3)
    untied = RecurrentLM(30, 8, 8, tied=False)
    assert torch.equal(tied.head.weight, untied.head.weight)
    assert torch.equal(tied.rnn.weight_hh_l0, untied.rnn.weight_hh_l0)
    assert not torch.equal(untied.embedding.weight, untied.head.weight)
    assert untied.embedding.weight.abs().max() <= 0.1  # both matrices start from U(-0.1, 0.1)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("tied, dim, hidden", [(True, 8, 8), (False, 8, 8), (False, 6, 10)])
def test_parameter_formula_matches_the_model(cell, layers, tied, dim, hidden):
    model = RecurrentLM(37, dim, hidden, tied, cell, layers)
    assert lm_parameter_count(37, dim, hidden, tied, cell, layers) == \
        count_parameters(model).unique


def test_tied_has_fewer_parameters_than_untied_by_one_embedding():
    tied, untied = (lm_parameter_count(1000, 32, 32, t) for t in (True, False))
    assert untied - tied == 1000 * 32


@pytest.mark.parametrize("vocab, dim, cell", [(1000, 32, "lstm"), (2000, 64, "lstm"),
                                              (500, 16, "gru")])
def test_size_matched_untied_model_is_as_close_as_possible_to_the_tied_count(vocab, dim, cell):
    small = size_matched_dim(vocab, dim, cell)
    target = lm_parameter_count(vocab, dim, dim, True, cell)
    count = lambda d: lm_parameter_count(vocab, d, d, False, cell)
    assert small < dim
    assert abs(count(small) - target) <= min(abs(count(small - 1) - target),
                                             abs(count(small + 1) - target))
    assert abs(count(small) - target) / target < 0.03


# --- perplexity and training ----------------------------------------------------------------------

class ZeroLogits(nn.Module):
    """A model that gives every word the same score: the uniform distribution."""

    def __init__(self, vocab: int):
        super().__init__()
        self.vocab = vocab
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, tokens, state=None):
        return torch.zeros(*tokens.shape, self.vocab), state


@pytest.mark.parametrize("vocab", [2, 17, 1000])
def test_a_uniform_model_has_perplexity_equal_to_the_vocabulary_size(vocab):
    ids = torch.randint(0, vocab, (500,), generator=torch.Generator().manual_seed(0))
    assert perplexity(ZeroLogits(vocab), ids, bptt=7, batch_size=3) == pytest.approx(vocab)


def test_perplexity_leaves_the_training_mode_as_it_was(tiny_data):
    model = RecurrentLM(len(tiny_data.vocab), 8, 8, tied=True).train()
    value = perplexity(model, tiny_data.valid, bptt=5, batch_size=2)
    assert model.training and 1 < value < 2 * len(tiny_data.vocab)


def test_a_tiny_model_learns_the_loss_falls(tiny_data):
    torch.manual_seed(0)
    vocab = len(tiny_data.vocab)
    model = RecurrentLM(vocab, 16, 16, tied=True, dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    inputs, targets = next(bptt_chunks(batchify(tiny_data.train, 8), 10))
    losses = []
    for _ in range(30):
        logits, _ = model(inputs)
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(math.log(vocab), rel=0.1)  # starts near uniform
    assert losses[-1] < 0.5 * losses[0]


def test_train_lm_reports_per_epoch_perplexities_that_beat_uniform(tiny_data):
    config = dataclasses.replace(TINY, epochs=2)
    run = train_lm(tiny_data, config, tied=True, seed=0, progress=False, device="cpu")
    assert len(run.valid_ppl) == len(run.train_ppl) == 2
    assert run.valid_ppl[-1] < len(tiny_data.vocab) / 2 and math.isfinite(run.test_ppl)
    assert run.parameters == lm_parameter_count(len(tiny_data.vocab), 8, 8, True)
    assert run.row_updates is None and run.steps > 0


def test_splits_too_short_for_their_batches_are_one_clear_sentence(tmp_path):
    for name, text in (("train", "a b " * 30), ("valid", "a b " * 30), ("test", "a b c")):
        (tmp_path / f"{name}.txt").write_text(text, encoding="utf-8")
    data = prepare(load_corpus(tmp_path), vocab_cap=10)
    with pytest.raises(ValueError, match="the test split has 3 tokens, too few"):
        train_lm(data, TINY, tied=True, seed=0, progress=False, device="cpu")


def test_training_is_reproducible_for_one_seed(tiny_data):
    first, second = (train_lm(tiny_data, TINY, False, seed=4, progress=False, device="cpu")
                     for _ in range(2))
    assert first.valid_ppl == second.valid_ppl and first.test_ppl == second.test_ppl


def _rows_seen_as_input(data, config, vocab_size):
    """For each word, how many training steps have it among their inputs."""
    seen = np.zeros(vocab_size, dtype=int)
    for _ in range(config.epochs):
        for inputs, _ in bptt_chunks(batchify(data.train, config.batch_size), config.bptt):
            seen[inputs.unique().numpy()] += 1
    return seen


def test_update_recorder_input_rows_change_only_when_their_word_is_read(tiny_data):
    run = train_lm(tiny_data, TINY, tied=False, seed=0, record_updates=True, progress=False,
                   device="cpu")
    vocab = len(tiny_data.vocab)
    expected = _rows_seen_as_input(tiny_data, TINY, vocab)
    assert set(run.row_updates) == {"input", "output"}
    assert all(set(rows) == {"steps", "path", "net"} for rows in run.row_updates.values())
    read = run.row_updates["input"]
    assert read["steps"].tolist() == expected.tolist()
    assert expected[0] == 0 and (expected < run.steps).any()  # <unk> never read; some words rare
    assert (run.row_updates["output"]["steps"] == run.steps).all()  # every output row, every step
    never = expected == 0  # a row no step changed travelled nowhere
    assert (read["path"][never] == 0).all() and (read["net"][never] == 0).all()
    for rows in run.row_updates.values():
        assert rows["path"].dtype == np.float64 and rows["net"].shape == (vocab,)
        assert (rows["path"][rows["steps"] > 0] > 0).all()
        assert (rows["net"] <= rows["path"] * (1 + 1e-5)).all()  # a path is at least its net


def test_update_recorder_tied_rows_change_at_every_step(tiny_data):
    run = train_lm(tiny_data, TINY, tied=True, seed=0, record_updates=True, progress=False,
                   device="cpu")
    assert set(run.row_updates) == {"tied"}
    assert (run.row_updates["tied"]["steps"] == run.steps).all()
    assert (run.row_updates["tied"]["path"] > 0).all()


@pytest.mark.parametrize("tied", [True, False])
def test_update_recorder_net_is_each_rows_distance_from_its_start(tiny_data, tied):
    run = train_lm(tiny_data, TINY, tied=tied, seed=3, record_updates=True, progress=False,
                   device="cpu")
    torch.manual_seed(3)  # train_lm seeds the same way before it builds the model
    start = build_lm(TINY, len(tiny_data.vocab), tied).state_dict()
    end = run.model.state_dict()
    weights = {"tied": "head.weight"} if tied else {"input": "embedding.weight",
                                                    "output": "head.weight"}
    for name, weight in weights.items():
        distance = (end[weight] - start[weight]).norm(dim=1).numpy()
        np.testing.assert_allclose(run.row_updates[name]["net"], distance, rtol=1e-6, atol=1e-8)


def test_update_recorder_path_of_one_step_is_its_net_change(tiny_data):
    one_step = dataclasses.replace(TINY, bptt=10_000)  # one chunk per epoch, so one step
    run = train_lm(tiny_data, one_step, tied=False, seed=0, record_updates=True,
                   progress=False, device="cpu")
    assert run.steps == 1
    for rows in run.row_updates.values():
        np.testing.assert_allclose(rows["path"], rows["net"], rtol=1e-6, atol=1e-9)


def test_compare_variants_trains_three_variants_per_seed(tiny_data):
    runs = compare_variants(tiny_data, TINY, seeds=2, progress=False, device="cpu")
    assert set(runs) == set(VARIANTS)
    assert [r.seed for r in runs["untied_size_matched"]] == [0, 1]
    tied, untied, small = (runs[v][0] for v in VARIANTS)
    assert tied.parameters < untied.parameters and small.dim < tied.dim
    assert small.dim == size_matched_dim(len(tiny_data.vocab), 8)


def test_compare_variants_needs_equal_sizes_and_a_seed(tiny_data):
    with pytest.raises(ValueError, match="hidden 9 and embedding 8"):
        compare_variants(tiny_data, dataclasses.replace(TINY, hidden=9), 1, progress=False)
    with pytest.raises(ValueError, match="at least one seed"):
        compare_variants(tiny_data, TINY, [], progress=False)


@pytest.mark.parametrize("bad, message", [
    (dict(epochs=0), "epochs must be a whole number >= 1"),
    (dict(lr=-1.0), "lr must be a positive number"),
    (dict(clip=float("nan")), "clip must be a positive number"),
    (dict(cell="transformer"), "unknown cell"),
])
def test_bad_training_settings_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        LMConfig(**bad)


# --- nearest neighbours ---------------------------------------------------------------------------

def test_nearest_neighbours_rank_by_cosine_and_skip_the_word_itself():
    vocab = Vocabulary(["a", "b", "c", "d"], cap=5)  # ids: <unk> 0, a 1, b 2, c 3, d 4
    matrix = torch.tensor([[0.0, 1.0], [1.0, 0.0], [2.0, 0.1], [-1.0, 0.0], [1.0, 1.0]])
    neighbours = nearest_neighbours(matrix, vocab, "a", k=2)
    assert [word for word, _ in neighbours] == ["b", "d"]
    assert neighbours[1][1] == pytest.approx(1 / math.sqrt(2), abs=1e-3)
    with pytest.raises(ValueError, match="'zebra' is not in the vocabulary"):
        nearest_neighbours(matrix, vocab, "zebra")


def test_neighbour_overlap_is_one_for_the_same_matrix_and_low_for_unrelated_ones():
    generator = torch.Generator().manual_seed(0)
    first, second = torch.randn(200, 16, generator=generator), torch.randn(200, 16,
                                                                            generator=generator)
    ids = list(range(1, 51))
    assert neighbour_overlap(first, first, ids) == 1.0
    assert neighbour_overlap(first, 3 * first, ids, k=5) == 1.0  # cosine ignores length
    assert neighbour_overlap(first, second, ids) < 0.2  # chance is about 10 / 200


def test_the_old_module_name_still_imports():
    """lm.py is recurrent_lm.py's old name: imports from it keep working."""
    from tying_utils import lm, recurrent_lm

    for name in ("RecurrentLM", "lm_parameter_count", "size_matched_dim", "CELLS", "INIT_RANGE"):
        assert getattr(lm, name) is getattr(recurrent_lm, name)


def test_emb_the_old_name_of_dim_still_works():
    """`dim` was called `emb`: LMConfig, RecurrentLM, lm_parameter_count and LMRun still take or
    read the old name (dataclasses.replace takes the new one: it passes every field)."""
    assert LMConfig(emb=8, hidden=8) == LMConfig(dim=8, hidden=8) == dataclasses.replace(
        LMConfig(), dim=8, hidden=8)
    assert LMConfig(dim=8, hidden=8).emb == 8 and hash(LMConfig(emb=8)) == hash(LMConfig(dim=8))
    with pytest.raises(TypeError, match="got both dim and emb"):
        LMConfig(dim=8, emb=8)
    torch.manual_seed(0)
    new = RecurrentLM(20, 8, 8, True)
    torch.manual_seed(0)
    old = RecurrentLM(20, emb=8, hidden=8, tied=True)
    assert all(torch.equal(a, b) for a, b in zip(new.state_dict().values(),
                                                 old.state_dict().values()))
    assert lm_parameter_count(20, emb=8, hidden=6, tied=False) == \
        lm_parameter_count(20, 8, 6, False)
    run = LMRun(True, 0, 8, 8, 100)
    assert run.emb == run.dim == 8
