"""Train and evaluate language models, recurrent or Transformer: perplexity, paired variants.

Introduced in notebook 05 (language_model); notebook 06 (transformer) and the `lm` and `sweep`
commands use it too.

- `perplexity`: exp of the mean cross-entropy per token, the state carried from chunk to chunk
  (a Transformer carries none: each chunk is its whole context).
- `LMConfig`, `build_lm`: one training setup, and the model it names (`arch` "lstm", the
  `RecurrentLM` of recurrent_lm.py, or "transformer", the `TransformerLM` of transformer.py): what
  differs between the two is their record in architectures.py, read here and by the command line.
- `train_lm`, `compare_variants`: the LSTM with SGD and gradient clipping (as in Zaremba et al.
  2014, the setting Press & Wolf 2017 build on), the Transformer with Adam; perplexity per epoch,
  and optionally how each embedding row moved: how many steps changed it, and how far
  (Press & Wolf's update argument).
- `lm_results_json`: the results as the `lm` command writes them (`lm_table`, the table it
  prints, lives in reports.py and is re-exported here).
- `run_sweep`, `sweep_point`, `sweep_sentence`: notebook 06's question, when does tying pay, as
  the width grows (the `sweep` command); its interval (`paired_interval`) is stats.py's and its
  figure (`plot_sweep`) plots.py's, both importable from here too.
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

from .architectures import ARCHITECTURES, architecture
from .checks import check_choice, check_dropout, check_positive, check_wholes, renamed_keywords
from .corpus import LMData, Vocabulary, batchify, bptt_chunks
from .options import ARCH_DEFAULTS, ARCHS, CELL_GATES, EVAL_BATCH, LM_DEFAULTS
from .plots import plot_sweep  # re-exported, as T_975 and paired_interval: notebooks 05 and 06
from .reports import (  # the three variants, the keys of plots.COLORS
    VARIANT_LABELS,
    VARIANTS,
    lm_table,  # the `lm` command's table, kept importable from here
)
from .runtime import threads_for
from .stats import T_975, paired_interval
from .tying import count_parameters

__all__ = [
    "ARCHS", "ARCH_DEFAULTS", "VARIANTS", "VARIANT_LABELS", "default_device", "perplexity",
    "nearest_neighbours", "neighbour_overlap", "LMConfig", "LMRun", "build_lm",
    "size_matched_config", "train_lm", "compare_variants", "lm_table", "lm_results_json",
    "T_975", "DIFFERENCES", "paired_interval", "sweep_point", "run_sweep", "zero_crossings",
    "sweep_sentence", "plot_sweep",
]



def default_device() -> torch.device:
    """A GPU when there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@torch.no_grad()
def perplexity(model: nn.Module, ids: torch.Tensor, bptt: int = 35,
               batch_size: int = EVAL_BATCH) -> float:
    """exp(mean cross-entropy per token) of `model` on the stream `ids`, the state carried from
    chunk to chunk. `model(tokens, state)` must return `(logits, state)`. A `TransformerLM`
    ignores the state and returns None for it: it reads each chunk of `bptt` tokens as its whole
    context, so the first tokens of a chunk are predicted from few others."""
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

# ARCHS and ARCH_DEFAULTS (what `None` means for `layers`, `lr` and `clip`, per architecture)
# live in options.py, with the other defaults below, so the command line reads them cheaply.


@dataclass(frozen=True)
class LMConfig:
    """One training setup. The defaults are those of the `lm` command (a few minutes on a laptop
    CPU); batch 20, bptt 35, lr 20, clip 0.25 and dropout 0.2 are the defaults of PyTorch's
    word_language_model example. Notebook 05 uses smaller sizes to fit its time budget.

    `dim` is the embedding width d: the (V, d) matrix that tying shares. `hidden` is the LSTM's
    own hidden size, a separate setting; tying needs hidden == dim (or a projection between
    them, which this model has not), so both default to 64. `emb`, the old name of `dim`, is
    still accepted by the constructor (`LMConfig(emb=32)` is `LMConfig(dim=32)`, and `config.emb`
    reads `dim`); `dataclasses.replace` takes `dim=` only.

    `arch="transformer"` trains a `TransformerLM` of width `dim` (which `hidden` must equal),
    `layers` blocks, `heads` attention heads, initialised by the convention `init`, with Adam;
    it reads each chunk of `bptt` tokens as its context. `layers`, `lr` and `clip` left at None
    take the architecture's values from `ARCH_DEFAULTS`; `cell` is the LSTM's only, `heads` and
    `init` the Transformer's only. The values are filled in when the config is made, so choose
    `arch` then: `dataclasses.replace(LMConfig(), arch="transformer")` keeps SGD's lr of 20.
    """

    dim: int = LM_DEFAULTS["dim"]  # 64, the embedding width d
    hidden: int = LM_DEFAULTS["hidden"]  # 64, the LSTM's own size (tying needs it == dim)
    cell: str = LM_DEFAULTS["cell"]  # "lstm"
    layers: int | None = None  # None: 1 LSTM layer, 2 Transformer blocks
    dropout: float = LM_DEFAULTS["dropout"]  # 0.2
    bptt: int = LM_DEFAULTS["bptt"]  # 35 tokens per chunk of truncated backpropagation
    batch_size: int = LM_DEFAULTS["batch_size"]  # 20 rows of text read side by side
    # The learning rate is divided by 4 after an epoch that did not improve validation.
    lr: float | None = None  # None: SGD at 20 (LSTM) or Adam at 0.003 (Transformer)
    clip: float | None = None  # the gradient norm is clipped to this (None: 0.25 or 1.0)
    epochs: int = LM_DEFAULTS["epochs"]  # 6
    arch: str = LM_DEFAULTS["arch"]  # "lstm"
    heads: int = LM_DEFAULTS["heads"]  # 2
    init: str = LM_DEFAULTS["init"]  # "gpt2"

    def __post_init__(self):
        record = architecture(self.arch)
        for name, value in record.defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)  # frozen: set once, here
        check_wholes(dim=self.dim, hidden=self.hidden, layers=self.layers, bptt=self.bptt,
                     batch_size=self.batch_size, epochs=self.epochs, heads=self.heads)
        check_choice("cell", self.cell, CELL_GATES)
        check_dropout(self.dropout)
        check_positive("lr", self.lr)
        check_positive("clip", self.clip)
        record.check(self)  # e.g. a Transformer's one width, which its heads divide

    def describe(self) -> str:
        """The architecture and optimizer in one line (the table's header)."""
        return ARCHITECTURES[self.arch].describe(self)

    @property
    def emb(self) -> int:
        """The old name of `dim`."""
        return self.dim


# `LMConfig(emb=…)`, the old name of `dim`, keeps working (dataclasses.replace takes `dim=`)
LMConfig.__init__ = renamed_keywords(emb="dim")(LMConfig.__init__)


def build_lm(config: LMConfig, vocab: int, tied: bool) -> nn.Module:
    """The model `config` names, with `vocab` words, tied or not (seed the generator first)."""
    return ARCHITECTURES[config.arch].build(config, vocab, tied)


def size_matched_config(config: LMConfig, vocab: int) -> LMConfig:
    """`config` with the width of the untied model whose parameter count is closest to the tied
    model's (recurrent_lm.py's and transformer.py's `size_matched_dim`)."""
    small = ARCHITECTURES[config.arch].size_matched_dim(config, vocab)
    return dataclasses.replace(config, dim=small, hidden=small)


@dataclass
class LMRun:
    """What one training run measured. Perplexities are per epoch; `train_ppl` is measured like
    `valid_ppl` (dropout off) on the first len(valid) tokens of the training split."""

    tied: bool
    seed: int
    dim: int  # the embedding width d (`emb` before; `run.emb` still reads it)
    hidden: int
    parameters: int
    train_ppl: list[float] = field(default_factory=list)
    valid_ppl: list[float] = field(default_factory=list)
    test_ppl: float = math.nan
    steps: int = 0
    seconds: float = 0.0
    # matrix → {"steps", "path", "net"}: per row, how many steps changed it, the sum of the
    # lengths of those changes, and the length of its total change (see train_lm)
    row_updates: dict[str, dict[str, np.ndarray]] | None = None
    model: nn.Module | None = field(default=None, repr=False)

    @property
    def emb(self) -> int:
        """The old name of `dim`."""
        return self.dim


def train_lm(data: LMData, config: LMConfig, tied: bool, seed: int,
             record_updates: bool = False, progress: bool = True,
             device: torch.device | str | None = None) -> LMRun:
    """Train the model `config` names on `data.train` and measure its perplexities.

    With `record_updates`, measure how every row of each embedding matrix moved: `row_updates`
    has "input" and "output" for an untied model, "tied" for a tied one, each a dict of arrays
    with one number per row: "steps", how many optimizer steps changed the row; "path", the sum
    of the lengths (L2 norms) of those changes; "net", the length of the row's total change
    from start to end of training.
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
    model = build_lm(config, len(data.vocab), tied).to(device)
    torch.manual_seed(seed)  # same dropout masks for every variant of one seed
    train = batchify(data.train, config.batch_size).to(device)
    train_sample = data.train[: len(data.valid)]
    optimizer = ARCHITECTURES[config.arch].optimizer(model.parameters(), config.lr)
    tracked = ({"tied": model.head.weight} if tied else
               {"input": model.embedding.weight, "output": model.head.weight})
    start_rows = {n: p.detach().clone() for n, p in tracked.items()} if record_updates else {}
    moved = {name: {"steps": torch.zeros(len(data.vocab), dtype=torch.long, device=device),
                    "path": torch.zeros(len(data.vocab), dtype=torch.float64, device=device)}
             for name in tracked}
    run = LMRun(tied, seed, config.dim, config.hidden, count_parameters(model).unique)
    steps_per_epoch = math.ceil((train.shape[1] - 1) / config.bptt)
    bar = tqdm(total=config.epochs * steps_per_epoch, disable=not progress, leave=False,
               desc=f"{'tied' if tied else 'untied'} d={config.dim} seed {seed}")
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
                change = tracked[name].detach() - old  # zero exactly where the row did not move
                moved[name]["steps"] += (change != 0).any(dim=1)
                moved[name]["path"] += change.norm(dim=1).double()
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
        run.row_updates = {
            name: {"steps": moved[name]["steps"].cpu().numpy(),
                   "path": moved[name]["path"].cpu().numpy(),
                   "net": (tracked[name].detach() - start_rows[name]).norm(dim=1).cpu().numpy()}
            for name in tracked}
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

    if config.dim != config.hidden:
        raise ValueError(f"tying needs the hidden size to equal the embedding size, got hidden "
                         f"{config.hidden} and embedding {config.dim}.")
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not seeds:
        raise ValueError("compare_variants needs at least one seed.")
    setups = {"tied": (config, True), "untied": (config, False),
              "untied_size_matched": (size_matched_config(config, len(data.vocab)), False)}
    runs: dict[str, list[LMRun]] = {variant: [] for variant in VARIANTS}
    with tqdm(total=len(seeds) * len(VARIANTS), disable=not progress, desc="training runs") as bar:
        for seed in seeds:
            for variant, (setup, tied) in setups.items():
                runs[variant].append(train_lm(data, setup, tied, seed, record_updates,
                                              progress=False, device=device))
                bar.update()
    return runs


def lm_results_json(runs: dict[str, list[LMRun]], data: LMData, config: LMConfig,
                    args=None) -> dict:
    """The `lm` command's JSON: the configuration, then per variant the per-seed numbers."""
    result = {"config": {**dataclasses.asdict(config), "corpus": data.corpus.name,
                         "corpus_sha256": data.corpus.sha256, "vocab": len(data.vocab),
                         "seeds": [r.seed for r in runs["tied"]]}}
    for variant in VARIANTS:
        group = runs[variant]
        result[variant] = {
            "dim": group[0].dim,  # "emb" in results written before (reports.dim_of reads both)
            "hidden": group[0].hidden,
            "parameters": group[0].parameters,
            "valid_ppl": [r.valid_ppl[-1] for r in group],
            "test_ppl": [r.test_ppl for r in group],
            "train_ppl": [r.train_ppl[-1] for r in group],
            "valid_ppl_per_epoch": [r.valid_ppl for r in group],
            "train_ppl_per_epoch": [r.train_ppl for r in group],
        }
    return result


# --- when does tying pay? the width sweep of notebook 06 ------------------------------------------

DIFFERENCES = {"tied_minus_untied": "untied", "tied_minus_size_matched": "untied_size_matched"}


def sweep_point(runs: dict[str, list[LMRun]], vocab: int) -> dict:
    """One width of the sweep, from `compare_variants`' runs: sizes, per-seed perplexities, and
    the paired differences in test perplexity (tied − untied, tied − size-matched untied) with
    their 95% intervals. `embedding_share` is V·d over the untied model's
    parameters: the fraction of the untied model that tying removes."""
    tied, untied = runs["tied"][0], runs["untied"][0]
    point = {
        "width": tied.dim,
        "size_matched_width": runs["untied_size_matched"][0].dim,
        "parameters": {v: runs[v][0].parameters for v in VARIANTS},
        "embedding_share": vocab * tied.dim / untied.parameters,
        "seeds": [r.seed for r in runs["tied"]],
        "valid_ppl": {v: [r.valid_ppl[-1] for r in runs[v]] for v in VARIANTS},
        "test_ppl": {v: [r.test_ppl for r in runs[v]] for v in VARIANTS},
        "train_ppl": {v: [r.train_ppl[-1] for r in runs[v]] for v in VARIANTS},
        "seconds": {v: [r.seconds for r in runs[v]] for v in VARIANTS},
    }
    for name, other in DIFFERENCES.items():  # the verdict on test: validation steered the lr
        point[name] = paired_interval(np.subtract(point["test_ppl"]["tied"],
                                                  point["test_ppl"][other]))
    return point


def run_sweep(data: LMData, config: LMConfig, widths, seeds, progress: bool = True,
              device=None) -> dict:
    """Notebook 06's question, when does tying pay: for every width d in `widths` train the
    tied, untied and size-matched untied models that `config` describes (with dim = hidden = d)
    for every seed, and return the JSON the `sweep` command writes: the configuration, one
    `sweep_point` per width, and the seconds it took (wall clock, and CPU time: on one thread
    and a busy machine the second says what the first would be on an idle one)."""
    from tqdm.auto import tqdm

    widths = [int(w) for w in widths]
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not widths or not seeds:
        raise ValueError("a sweep needs at least one width and one seed.")
    configs = [dataclasses.replace(config, dim=w, hidden=w) for w in widths]  # checks each width
    start, start_cpu = time.perf_counter(), time.process_time()
    points = []
    for setup in tqdm(configs, disable=not progress, desc="widths"):
        runs = compare_variants(data, setup, seeds, progress=False, device=device)
        points.append(sweep_point(runs, len(data.vocab)))
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k not in ("dim", "hidden")}
    return {
        "config": {**settings, "widths": widths, "seeds": seeds, "corpus": data.corpus.name,
                   "corpus_sha256": data.corpus.sha256, "vocab": len(data.vocab)},
        "points": points,
        "seconds": time.perf_counter() - start,  # wall-clock time
        "cpu_seconds": time.process_time() - start_cpu,  # CPU time of all threads together
    }


def zero_crossings(points: list[dict], name: str = "tied_minus_untied") -> list[float]:
    """The embedding shares at which the mean difference `name` changes sign between two
    neighbouring widths, by linear interpolation (empty when it keeps one sign)."""
    ordered = sorted(points, key=lambda p: p["embedding_share"])
    found = []
    for a, b in zip(ordered, ordered[1:]):
        ya, yb = a[name]["mean"], b[name]["mean"]
        if ya == 0 or ya * yb < 0:
            xa, xb = a["embedding_share"], b["embedding_share"]
            found.append(xa + (xb - xa) * ya / (ya - yb) if ya != yb else xa)
    return found


def sweep_sentence(result: dict) -> str:
    """One line that says what the sweep found, from its numbers: between which widths each
    paired difference changes sign, and at which its 95% interval lies wholly on one side of
    zero."""
    points = sorted(result["points"], key=lambda p: p["width"])
    parts = []
    for name, other in (("tied_minus_untied", "untied"),
                        ("tied_minus_size_matched", "size-matched untied")):
        better = [p["width"] for p in points if p[name]["ci95"][1] < 0]
        worse = [p["width"] for p in points if p[name]["ci95"][0] > 0]
        crossings = [(a["width"], b["width"]) for a, b in zip(points, points[1:])
                     if a[name]["mean"] * b[name]["mean"] <= 0]
        if crossings:  # between two widths: the intervals there say no more than that
            where = " and ".join(f"d = {a} and {b}" for a, b in crossings)
            trend = f"changes sign between {where}"
        elif all(p[name]["mean"] < 0 for p in points):
            trend = "is below zero at every width"
        else:
            trend = "is above zero at every width"
        sure = "; ".join(text for text, widths in (("tied better", better),
                                                    ("tied worse", worse)) if widths
                         for text in [f"{text} at d = {', '.join(map(str, widths))}"])
        parts.append(f"tied − {other} {trend} ({sure or 'no interval excludes zero'})")
    return "; ".join(parts) + "."
