"""Corpus loading, a small recurrent language model, perplexity, and the `lm` command.

Introduced in notebook 05 (language_model); `python -m tying_utils lm` runs the same experiment
from the command line.

The pieces, in the order the notebook uses them:

- `load_corpus`: the default corpus is English prose that ships with Python itself (the help
  texts in `pydoc_data.topics`), so it works offline on every machine. A plain text file (split
  80/10/10 into train/valid/test) or a folder with `train.txt`, `valid.txt`, `test.txt` (the
  WikiText layout) works too.
- `tokenize`, `Vocabulary`, `prepare`: words and punctuation marks, lower-cased; the vocabulary is
  built from the training split only, and every other word becomes `<unk>`.
- `batchify`, `bptt_chunks`: truncated backpropagation through time.
- `RecurrentLM`: embedding → LSTM (or GRU) → linear head, tied or untied.
- `train_lm`, `compare_variants`: SGD with gradient clipping (as in Zaremba et al. 2014, the
  setting Press & Wolf 2017 build on), perplexity per epoch, and optionally how many steps changed
  each embedding row (Press & Wolf's update argument).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .tying import count_parameters, tie

__all__ = [
    "Corpus", "load_corpus", "tokenize", "Vocabulary", "LMData", "prepare", "batchify",
    "bptt_chunks", "RecurrentLM", "lm_parameter_count", "size_matched_dim", "perplexity",
    "LMConfig", "LMRun", "train_lm", "compare_variants", "nearest_neighbours", "neighbour_overlap",
    "default_device",
    "VARIANTS", "VARIANT_LABELS", "lm_table", "lm_results_json", "add_lm_command",
]

UNK = "<unk>"
SPLIT_FILES = ("train.txt", "valid.txt", "test.txt")
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)  # a single text file is cut into train / valid / test
CELLS = {"lstm": (nn.LSTM, 4), "gru": (nn.GRU, 3)}  # the module and its number of gates
VARIANTS = ("tied", "untied", "untied_size_matched")
VARIANT_LABELS = {"tied": "tied", "untied": "untied",
                  "untied_size_matched": "untied (size-matched)"}  # the keys of plots.COLORS
INIT_RANGE = 0.1  # embedding and output weights start from U(-0.1, 0.1), as in Zaremba et al.
EVAL_BATCH = 10  # rows of text read side by side when measuring perplexity

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
    """The corpus `source` names: "pydoc" (the default, shipped with Python), a UTF-8 text file
    (cut into 80% train, 10% valid, 10% test, in order), or a folder holding train.txt, valid.txt
    and test.txt."""
    if str(source) == "pydoc":
        from pydoc_data.topics import topics  # Python's own help texts: ~465k characters on 3.11

        text = "\n\n".join(topics[key] for key in sorted(topics))  # sorted: same order everywhere
        return _split_text("pydoc", text)
    path = Path(source)
    if path.is_dir():
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
    raise ValueError(
        f"no corpus at {str(path)!r}: give 'pydoc', a text file, or a folder with train.txt, "
        f"valid.txt and test.txt."
    )


def _read_text(path: Path) -> str:
    data = path.read_bytes()
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
        raise ValueError(f"{name!r} has only {len(tokens)} tokens: a corpus to split into "
                         f"train, valid and test needs at least 20.")
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


# --- the model ------------------------------------------------------------------------------------

class RecurrentLM(nn.Module):
    """Embedding(V, emb) → dropout → LSTM or GRU (hidden) → dropout → Linear(hidden, V).

    Tied, the embedding and the head are one (V, emb) matrix, which needs hidden == emb
    (Press & Wolf 2017). Under one seed a tied and an untied model start with the same recurrent
    weights and the same head; the untied one also draws its own embedding.
    """

    def __init__(self, vocab: int, emb: int, hidden: int, tied: bool, cell: str = "lstm",
                 layers: int = 1, dropout: float = 0.2):
        super().__init__()
        _check_sizes(vocab=vocab, emb=emb, hidden=hidden, layers=layers)
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(CELLS)}.")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}.")
        if tied and emb != hidden:
            raise ValueError(f"tying needs the hidden size to equal the embedding size, got "
                             f"hidden {hidden} and embedding {emb}.")
        self.tied, self.cell = bool(tied), cell
        self.embedding = nn.Embedding(vocab, emb)
        self.rnn = CELLS[cell][0](emb, hidden, layers, batch_first=True,
                                  dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab)
        with torch.no_grad():
            self.head.weight.uniform_(-INIT_RANGE, INIT_RANGE)
            self.head.bias.zero_()
            if self.tied:
                tie(self.embedding, self.head)
            else:
                self.embedding.weight.uniform_(-INIT_RANGE, INIT_RANGE)

    def forward(self, tokens: torch.Tensor, state=None):
        """Logits `(batch, steps, V)` for `tokens` `(batch, steps)`, and the recurrent state."""
        output, state = self.rnn(self.drop(self.embedding(tokens)), state)
        return self.head(self.drop(output)), state

    def extra_repr(self) -> str:
        return f"tied={self.tied}"


def lm_parameter_count(vocab: int, emb: int, hidden: int, tied: bool, cell: str = "lstm",
                       layers: int = 1) -> int:
    """The unique parameters of a `RecurrentLM`, by formula.

    Embedding V·emb, head V·hidden + V (bias), and per recurrent layer `gates · (in·hidden +
    hidden·hidden + 2·hidden)` (PyTorch keeps two bias vectors). Tying removes V·emb.
    """
    gates = CELLS[cell][1]
    recurrent = sum(gates * (size_in * hidden + hidden * hidden + 2 * hidden)
                    for size_in in [emb] + [hidden] * (layers - 1))
    return (0 if tied else vocab * emb) + vocab * hidden + vocab + recurrent


def size_matched_dim(vocab: int, dim: int, cell: str = "lstm", layers: int = 1) -> int:
    """The size d (embedding = hidden = d) of the untied model whose parameter count is closest to
    that of the tied model with embedding = hidden = `dim`."""
    target = lm_parameter_count(vocab, dim, dim, True, cell, layers)
    return min(range(1, dim + 1),
               key=lambda d: abs(lm_parameter_count(vocab, d, d, False, cell, layers) - target))


def default_device() -> torch.device:
    """A GPU when there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@torch.no_grad()
def perplexity(model: nn.Module, ids: torch.Tensor, bptt: int = 35,
               batch_size: int = EVAL_BATCH) -> float:
    """exp(mean cross-entropy per token) of `model` on the stream `ids`, the state carried from
    chunk to chunk. `model(tokens, state)` must return `(logits, state)`."""
    was_training = model.training
    model.eval()
    device = next(iter(model.parameters()), torch.empty(0)).device
    total, count, state = 0.0, 0, None
    for inputs, targets in bptt_chunks(batchify(ids, batch_size).to(device), bptt):
        logits, state = model(inputs, state)
        total += F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="sum").item()
        count += targets.numel()
    model.train(was_training)
    return math.exp(total / count)


def nearest_neighbours(matrix: torch.Tensor, vocab: Vocabulary, word: str, k: int = 5):
    """The `k` words whose rows of `matrix` (V, d) have the highest cosine similarity to `word`'s
    row, as `(word, cosine)` pairs."""
    if word not in vocab.ids:
        raise ValueError(f"{word!r} is not in the vocabulary of {len(vocab)} words.")
    rows = F.normalize(matrix.detach().float().cpu(), dim=1)
    similarity = rows @ rows[vocab.ids[word]]
    similarity[vocab.ids[word]] = -2.0  # not the word itself
    best = similarity.topk(k)
    return [(vocab.words[i], round(float(s), 3)) for s, i in zip(best.values, best.indices)]


def neighbour_overlap(first: torch.Tensor, second: torch.Tensor, ids, k: int = 10) -> float:
    """For the words `ids`, the mean fraction of their `k` nearest neighbours (cosine) that two
    embedding matrices of one vocabulary agree on: 1 means the same neighbours, about k/V chance."""
    def neighbours(matrix):
        rows = F.normalize(matrix.detach().float().cpu(), dim=1)
        similarity = rows[list(ids)] @ rows.T
        similarity[range(len(ids)), list(ids)] = -2.0  # not the word itself
        return similarity.topk(k, dim=1).indices.tolist()

    pairs = zip(neighbours(first), neighbours(second))
    return float(np.mean([len(set(a) & set(b)) / k for a, b in pairs]))


# --- training -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LMConfig:
    """One training setup. The defaults are those of the `lm` command (a few minutes on a laptop
    CPU); batch 20, bptt 35, lr 20, clip 0.25 and dropout 0.2 are the defaults of PyTorch's
    word_language_model example. Notebook 05 uses smaller sizes to fit its time budget."""

    emb: int = 64
    hidden: int = 64
    cell: str = "lstm"
    layers: int = 1
    dropout: float = 0.2
    bptt: int = 35  # tokens per chunk of truncated backpropagation through time
    batch_size: int = 20  # rows of text read side by side
    lr: float = 20.0  # plain SGD, divided by 4 after an epoch that did not improve validation
    clip: float = 0.25  # the gradient norm is clipped to this
    epochs: int = 6

    def __post_init__(self):
        _check_sizes(emb=self.emb, hidden=self.hidden, layers=self.layers, bptt=self.bptt,
                     batch_size=self.batch_size, epochs=self.epochs)
        if self.cell not in CELLS:
            raise ValueError(f"unknown cell {self.cell!r}; choose one of {', '.join(CELLS)}.")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}.")
        for name in ("lr", "clip"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value}.")


@dataclass
class LMRun:
    """What one training run measured. Perplexities are per epoch; `train_ppl` is measured like
    `valid_ppl` (dropout off) on the first len(valid) tokens of the training split."""

    tied: bool
    seed: int
    emb: int
    hidden: int
    parameters: int
    train_ppl: list[float] = field(default_factory=list)
    valid_ppl: list[float] = field(default_factory=list)
    test_ppl: float = math.nan
    steps: int = 0
    seconds: float = 0.0
    row_updates: dict[str, np.ndarray] | None = None  # matrix → steps that changed each row
    model: nn.Module | None = field(default=None, repr=False)


def train_lm(data: LMData, config: LMConfig, tied: bool, seed: int,
             record_updates: bool = False, progress: bool = True,
             device: torch.device | str | None = None) -> LMRun:
    """Train one `RecurrentLM` on `data.train` and measure its perplexities.

    With `record_updates`, count for every row of each embedding matrix how many optimizer steps
    changed it: `row_updates` has "input" and "output" for an untied model, "tied" for a tied one.
    """
    from tqdm.auto import tqdm

    for split, rows in (("train", max(config.batch_size, EVAL_BATCH)), ("valid", EVAL_BATCH),
                        ("test", EVAL_BATCH)):
        if len(getattr(data, split)) < 2 * rows:
            raise ValueError(f"the {split} split has {len(getattr(data, split))} tokens, too few: "
                             f"it needs at least {2 * rows} (2 for each of its {rows} rows).")
    device = torch.device(device) if device is not None else default_device()
    torch.manual_seed(seed)
    model = RecurrentLM(len(data.vocab), config.emb, config.hidden, tied, config.cell,
                        config.layers, config.dropout).to(device)
    torch.manual_seed(seed)  # same dropout masks for every variant of one seed
    train = batchify(data.train, config.batch_size).to(device)
    train_sample = data.train[: len(data.valid)]
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr)
    tracked = ({"tied": model.head.weight} if tied else
               {"input": model.embedding.weight, "output": model.head.weight})
    changed = {name: torch.zeros(len(data.vocab), dtype=torch.long, device=device)
               for name in tracked}
    run = LMRun(tied, seed, config.emb, config.hidden, count_parameters(model).unique)
    steps_per_epoch = math.ceil((train.shape[1] - 1) / config.bptt)
    bar = tqdm(total=config.epochs * steps_per_epoch, disable=not progress, leave=False,
               desc=f"{'tied' if tied else 'untied'} d={config.emb} seed {seed}")
    start = time.perf_counter()
    for _ in range(config.epochs):
        model.train()
        state = None
        for inputs, targets in bptt_chunks(train, config.bptt):
            state = _detach(state)  # truncated BPTT: no gradient into the previous chunk
            logits, state = model(inputs, state)
            loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), config.clip)
            before = {n: p.detach().clone() for n, p in tracked.items()} if record_updates else {}
            optimizer.step()
            for name, old in before.items():
                changed[name] += (tracked[name].detach() != old).any(dim=1)
            run.steps += 1
            bar.update()
        run.valid_ppl.append(perplexity(model, data.valid, config.bptt))
        run.train_ppl.append(perplexity(model, train_sample, config.bptt))
        bar.set_postfix(valid_ppl=f"{run.valid_ppl[-1]:.1f}")
        if len(run.valid_ppl) > 1 and run.valid_ppl[-1] >= min(run.valid_ppl[:-1]):
            for group in optimizer.param_groups:
                group["lr"] /= 4
    bar.close()
    run.test_ppl = perplexity(model, data.test, config.bptt)
    run.seconds = time.perf_counter() - start
    if record_updates:
        run.row_updates = {name: counts.cpu().numpy() for name, counts in changed.items()}
    run.model = model.cpu()
    return run


def _detach(state):
    if state is None:
        return None
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def compare_variants(data: LMData, config: LMConfig, seeds, record_updates: bool = False,
                     progress: bool = True, device=None) -> dict[str, list[LMRun]]:
    """Train the tied model, the untied model of the same sizes, and the untied model shrunk to
    the tied model's parameter count, for every seed; returns variant → runs (one per seed)."""
    from tqdm.auto import tqdm

    if config.emb != config.hidden:
        raise ValueError(f"tying needs the hidden size to equal the embedding size, got hidden "
                         f"{config.hidden} and embedding {config.emb}.")
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not seeds:
        raise ValueError("compare_variants needs at least one seed.")
    small = size_matched_dim(len(data.vocab), config.emb, config.cell, config.layers)
    setups = {"tied": (config, True), "untied": (config, False),
              "untied_size_matched": (dataclasses.replace(config, emb=small, hidden=small), False)}
    runs: dict[str, list[LMRun]] = {variant: [] for variant in VARIANTS}
    with tqdm(total=len(seeds) * len(VARIANTS), disable=not progress, desc="training runs") as bar:
        for seed in seeds:
            for variant, (setup, tied) in setups.items():
                runs[variant].append(train_lm(data, setup, tied, seed, record_updates,
                                              progress=False, device=device))
                bar.update()
    return runs


# --- checks ---------------------------------------------------------------------------------------

def _check_sizes(**sizes) -> None:
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {value!r}.")


# --- the `lm` command -----------------------------------------------------------------------------

def add_lm_command(commands) -> None:
    """Add `lm` to the command line's subcommands (called by `__main__.py`)."""
    defaults = LMConfig()
    p = commands.add_parser(
        "lm",
        help="train tied, untied and size-matched untied language models and compare perplexity",
        description="Train a small recurrent language model tied, untied, and untied with the "
        "tied model's parameter count, over several seeds, and compare their perplexities "
        "(Press & Wolf 2017).",
    )
    def option(name, kind, default, text, **extra):
        p.add_argument(name, type=kind, default=default, help=f"{text} (default %(default)s)",
                       **extra)

    option("--corpus", str, "pydoc", "'pydoc' (Python's own help texts), a UTF-8 text file, or "
           "a folder with train.txt, valid.txt, test.txt", metavar="pydoc|PATH")
    option("--seeds", int, 3, "train seeds 0..N-1")
    option("--epochs", int, defaults.epochs, "passes over the training split")
    option("--emb", int, defaults.emb, "embedding size")
    p.add_argument("--hidden", type=int, default=None,
                   help="hidden size (default: the embedding size; tying needs them equal)")
    option("--vocab-cap", int, 2000, "vocabulary size, <unk> included")
    option("--cell", str, defaults.cell, "recurrent cell", choices=CELLS)
    option("--layers", int, defaults.layers, "recurrent layers")
    option("--dropout", float, defaults.dropout, "dropout rate")
    option("--bptt", int, defaults.bptt, "tokens per truncated-backpropagation chunk")
    option("--batch-size", int, defaults.batch_size, "rows of text per batch")
    option("--lr", float, defaults.lr, "SGD learning rate")
    option("--clip", float, defaults.clip, "gradient norm clip")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for PyTorch (default: PyTorch's choice; 1 is often faster "
                   "for these small models on a busy machine)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the results")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run_lm_command)


def run_lm_command(args) -> int:
    if args.seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {args.seeds}.")
    if args.epochs < 1:
        raise ValueError(f"--epochs must be at least 1, got {args.epochs}.")
    hidden = args.emb if args.hidden is None else args.hidden
    if hidden != args.emb:
        raise ValueError(f"tying needs --hidden to equal --emb, got --hidden {hidden} and "
                         f"--emb {args.emb}.")
    if args.vocab_cap < 2:
        raise ValueError(f"--vocab-cap must be at least 2 (<unk> and one word), got "
                         f"{args.vocab_cap}.")
    if args.device not in (None, "cpu", "cuda"):
        raise ValueError(f"--device must be cpu or cuda, got {args.device!r}.")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but PyTorch sees no GPU here.")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be at least 1, got {args.threads}.")
    if args.json is not None:
        from .__main__ import check_writable  # shared with the compare command

        check_writable("--json", args.json)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    config = LMConfig(emb=args.emb, hidden=hidden, cell=args.cell, layers=args.layers,
                      dropout=args.dropout, bptt=args.bptt, batch_size=args.batch_size,
                      lr=args.lr, clip=args.clip, epochs=args.epochs)
    data = prepare(load_corpus(args.corpus), args.vocab_cap)
    print(data.corpus.describe())
    runs = compare_variants(data, config, args.seeds, progress=not args.no_progress,
                            device=args.device)
    print(lm_table(runs, data, config))
    if args.json is not None:
        args.json.write_text(json.dumps(lm_results_json(runs, data, config, args), indent=2)
                             + "\n")
        print(f"wrote {args.json}")
    return 0


def lm_table(runs: dict[str, list[LMRun]], data: LMData, config: LMConfig) -> str:
    """A plain-text table: per variant, mean ± sd over seeds of the final perplexities."""
    def stat(values):
        values = np.asarray(values, dtype=float)
        sd = values.std(ddof=1) if len(values) > 1 else 0.0
        return f"{values.mean():.1f} ± {sd:.1f}"

    seeds = len(runs["tied"])
    lines = [
        f"vocab={len(data.vocab)} cell={config.cell} layers={config.layers} "
        f"dropout={config.dropout:g} bptt={config.bptt} batch={config.batch_size} "
        f"lr={config.lr:g} epochs={config.epochs} seeds={seeds} (mean ± sd over seeds)",
        f"{'variant':24}{'emb=hidden':>11}{'parameters':>12}{'valid ppl':>16}{'test ppl':>16}"
        f"{'train ppl':>16}",
    ]
    for variant in VARIANTS:
        group = runs[variant]
        lines.append(
            f"{VARIANT_LABELS[variant]:24}{group[0].emb:>11}{group[0].parameters:>12,}"
            f"{stat([r.valid_ppl[-1] for r in group]):>16}{stat([r.test_ppl for r in group]):>16}"
            f"{stat([r.train_ppl[-1] for r in group]):>16}"
        )
    return "\n".join(lines)


def lm_results_json(runs: dict[str, list[LMRun]], data: LMData, config: LMConfig,
                    args=None) -> dict:
    """The `lm` command's JSON: the configuration, then per variant the per-seed numbers."""
    result = {"config": {**dataclasses.asdict(config), "corpus": data.corpus.name,
                         "corpus_sha256": data.corpus.sha256, "vocab": len(data.vocab),
                         "seeds": [r.seed for r in runs["tied"]]}}
    for variant in VARIANTS:
        group = runs[variant]
        result[variant] = {
            "emb": group[0].emb,
            "hidden": group[0].hidden,
            "parameters": group[0].parameters,
            "valid_ppl": [r.valid_ppl[-1] for r in group],
            "test_ppl": [r.test_ppl for r in group],
            "train_ppl": [r.train_ppl[-1] for r in group],
            "valid_ppl_per_epoch": [r.valid_ppl for r in group],
            "train_ppl_per_epoch": [r.train_ppl for r in group],
        }
    return result

