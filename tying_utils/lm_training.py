"""Train and evaluate language models: perplexity, SGD with clipping, paired variants.

Introduced in notebook 05 (language_model); notebook 06 (transformer) and the `lm` command use it.

- `perplexity`: exp of the mean cross-entropy per token, the state carried from chunk to chunk.
- `train_lm`, `compare_variants`: SGD with gradient clipping (as in Zaremba et al. 2014, the
  setting Press & Wolf 2017 build on), perplexity per epoch, and optionally how many steps changed
  each embedding row (Press & Wolf's update argument).
- `lm_table`, `lm_results_json`: the results as the `lm` command prints and writes them.
- `nearest_neighbours`, `neighbour_overlap`: what the embedding matrices learned.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .corpus import LMData, Vocabulary, batchify, bptt_chunks
from .lm import CELLS, RecurrentLM, _check_sizes, size_matched_dim
from .runtime import threads_for
from .tying import count_parameters

__all__ = [
    "VARIANTS", "VARIANT_LABELS", "default_device", "perplexity", "nearest_neighbours",
    "neighbour_overlap", "LMConfig", "LMRun", "train_lm", "compare_variants", "lm_table",
    "lm_results_json",
]

VARIANTS = ("tied", "untied", "untied_size_matched")
VARIANT_LABELS = {"tied": "tied", "untied": "untied",
                  "untied_size_matched": "untied (size-matched)"}  # the keys of plots.COLORS
EVAL_BATCH = 10  # rows of text read side by side when measuring perplexity


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
    with threads_for("lm"):
        return _train(data, config, tied, seed, record_updates, progress, device)


def _train(data, config, tied, seed, record_updates, progress, device) -> LMRun:
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
