"""The factorial experiment of notebook 06: what decides whether tying pays?

Notebook 05 trains an LSTM with SGD and finds tying helps against an untied model with the same
number of parameters (not against one of the same widths); notebook 06's width sweep trains a
Transformer with Adam and finds it does not. The two setups differ in architecture, optimizer and
vocabulary at once. This module crosses them: architecture {LSTM, Transformer} × optimizer
{SGD, Adam} × vocabulary cap, at one width, with tied, untied and size-matched untied models
over paired seeds (the `sweep` command's `--archs`, `--optimizers`, `--vocab-caps`). Every run
records, besides its final validation and test perplexities:

- `curve`: validation perplexity on a fixed validation subset, `evals_per_epoch` times per epoch,
  against training tokens seen (convergence speed: the blog's question at language-model scale);
- `output_grad_share` (tied runs): of the tied matrix's gradient, the share that comes from its
  use as the output layer rather than as the input embedding, per evaluation interval, overall
  and by word-frequency bucket (`output_grad_share_by_bucket`).

Each architecture × optimizer first trains a small learning-rate grid (tied and untied, one
extra seed) and keeps the rate with the lowest mean validation perplexity, the same rate for
every variant; where the best rate lies at the grid's edge, the grid grows past it (at most
`GRID_EXTENSIONS` times). Runs are kept on disk one file each, so an interrupted experiment
continues where it stopped, and `shard=(i, n)` trains every n-th run for machines that share
the work. The analysis (differences, effects, convergence) lives in `factorial_analysis.py`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .corpus import LMData, batchify, bptt_chunks, load_corpus, prepare
from .lm_training import (
    ARCH_DEFAULTS,
    VARIANTS,
    LMConfig,
    build_lm,
    default_device,
    perplexity,
    size_matched_config,
)
from .runtime import threads_for
from .tying import count_parameters

__all__ = ["OPTIMIZERS", "LR_GRIDS", "FREQUENCY_BUCKETS", "FactorialConfig", "RunSpec",
           "GRID_EXTENSIONS", "train_run", "grid_specs", "choose_rates", "main_specs",
           "run_factorial", "merge_results"]

OPTIMIZERS = ("sgd", "adam")
# The learning rates each architecture × optimizer tries; the best on validation data is used.
# SGD at 20 is the LSTM's rate in PyTorch's word_language_model example (and notebook 05), with
# its clip 0.25; Press & Wolf's code trains at 1.0 on a loss summed over each chunk's 20-35 steps,
# clipped at norm 5 or 10. The factorial's LSTM trains at the rate its grid chooses, clip 0.25.
LR_GRIDS = {("lstm", "sgd"): (10.0, 20.0, 40.0, 80.0),
            ("lstm", "adam"): (0.001, 0.003, 0.01, 0.03),
            ("transformer", "sgd"): (0.3, 1.0, 3.0, 10.0),
            ("transformer", "adam"): (0.001, 0.003, 0.01, 0.03)}
# Word ids are frequency ranks (<unk> is 0): the buckets of the gradient shares, by rank.
FREQUENCY_BUCKETS = ((0, 100), (100, 1000), (1000, None))


@dataclass(frozen=True)
class FactorialConfig:
    """The experiment: the factors' levels, the shared sizes, seeds and evaluation."""

    archs: tuple = ("lstm", "transformer")
    optimizers: tuple = OPTIMIZERS
    vocab_caps: tuple = (1000, 4000)
    corpus: str = "pydoc"
    # The key cells (every arch × optimizer at the first vocabulary cap) repeated on these.
    other_corpora: tuple = ("jargon",)
    width: int = 64
    epochs: int = 1
    # Every corpus's training split is cut to this many tokens (the default corpus has 77,882):
    # the same training budget on both corpora.
    max_train_tokens: int | None = 80_000
    evals_per_epoch: int = 10
    valid_subset: int = 5000  # tokens of the validation split the curve is measured on
    seeds: tuple = (0, 1, 2, 3, 4)
    grid_seed: int = 100  # the learning-rate grid's own seed, none of `seeds`
    init: str = "vaswani"  # the Transformer's, as in the width sweep

    def __post_init__(self):
        for name, allowed in (("archs", ARCH_DEFAULTS), ("optimizers", OPTIMIZERS)):
            bad = [v for v in getattr(self, name) if v not in allowed]
            if bad or not getattr(self, name):
                raise ValueError(f"{name} must list some of {', '.join(allowed)}, got "
                                 f"{', '.join(map(str, getattr(self, name))) or 'none'}.")
        if not self.vocab_caps or any(int(c) < 2 for c in self.vocab_caps):
            raise ValueError(f"vocab_caps must list whole numbers >= 2, got {self.vocab_caps}.")
        if self.evals_per_epoch < 1 or self.epochs < 1 or not self.seeds:
            raise ValueError("epochs, evals_per_epoch and the seeds must each be at least 1.")

    def lm_config(self, arch: str, lr: float) -> LMConfig:
        return LMConfig(arch=arch, dim=self.width, hidden=self.width, lr=lr,
                        epochs=self.epochs, init=self.init)


@dataclass(frozen=True)
class RunSpec:
    """One training run of the experiment; `key` names its file in the run folder."""

    corpus: str
    arch: str
    optimizer: str
    vocab_cap: int
    variant: str
    seed: int
    lr: float
    purpose: str = "factorial"  # or "lr_grid"

    @property
    def key(self) -> str:
        corpus = re.sub(r"[^\w.]", "_", Path(self.corpus).name)  # a file's name, not its path
        return (f"{self.purpose}-{corpus}-{self.arch}-{self.optimizer}-v{self.vocab_cap}-"
                f"{self.variant}-s{self.seed}-lr{self.lr:g}")


# --- one run --------------------------------------------------------------------------------------

def train_run(data: LMData, spec: RunSpec, config: FactorialConfig, device=None) -> dict:
    """Train the run `spec` names and return its JSON record."""
    with threads_for("lm"):
        return _train(data, spec, config, torch.device(device or default_device()))


def _train(data, spec, config, device) -> dict:
    lm = config.lm_config(spec.arch, spec.lr)
    if spec.variant == "untied_size_matched":
        lm = size_matched_config(lm, len(data.vocab))
    tied = spec.variant == "tied"
    torch.manual_seed(spec.seed)
    model = build_lm(lm, len(data.vocab), tied).to(device)
    torch.manual_seed(spec.seed)  # same dropout masks for every variant of one seed
    if spec.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=spec.lr)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=spec.lr)
    train = batchify(data.train, lm.batch_size).to(device)
    subset = data.valid[: config.valid_subset]
    steps = math.ceil((train.shape[1] - 1) / lm.bptt)
    eval_steps = {round(steps * k / config.evals_per_epoch)
                  for k in range(1, config.evals_per_epoch + 1)}
    shares = _GradientShares(len(data.vocab), device) if tied else None
    hook = shares.watch(model) if tied else None
    record = {**dataclasses.asdict(spec), "vocab": len(data.vocab), "width": lm.dim,
              "parameters": count_parameters(model).unique, "curve": [], "valid_ppl_per_epoch": []}
    if tied:
        record.update(output_grad_share=[], output_grad_share_by_bucket=[])
    tokens, start, best = 0, time.perf_counter(), math.inf
    for _ in range(lm.epochs):
        model.train()
        state = None
        for step, (inputs, targets) in enumerate(bptt_chunks(train, lm.bptt), start=1):
            state = None if state is None else _detach(state)
            logits, state = model(inputs, state)
            loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
            optimizer.zero_grad()
            loss.backward()
            if shares is not None:
                shares.add(model, inputs)
            nn.utils.clip_grad_norm_(model.parameters(), lm.clip)
            optimizer.step()
            tokens += targets.numel()
            if step in eval_steps:
                record["curve"].append([tokens, perplexity(model, subset, lm.bptt)])
                if shares is not None:
                    overall, buckets = shares.take()
                    record["output_grad_share"].append([tokens, overall])
                    record["output_grad_share_by_bucket"].append([tokens, buckets])
                model.train()
        valid = perplexity(model, data.valid, lm.bptt)
        record["valid_ppl_per_epoch"].append(valid)
        if valid >= best:  # as in lm_training: lr / 4 after an epoch that did not improve
            for group in optimizer.param_groups:
                group["lr"] /= 4
        best = min(best, valid)
    if hook is not None:
        hook.remove()
    record["valid_ppl"] = record["valid_ppl_per_epoch"][-1]
    record["test_ppl"] = perplexity(model, data.test, lm.bptt)
    record["seconds"] = time.perf_counter() - start
    return record


def _detach(state):
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


class _GradientShares:
    """Splits the tied matrix's gradient into its input part (the rows the batch looked up,
    through the embedding's output gradient) and its output part (the rest: the head's), and
    sums the lengths of both per frequency bucket until `take`."""

    def __init__(self, vocab: int, device):
        self.vocab = vocab
        self.buckets = [(lo, min(hi or vocab, vocab)) for lo, hi in FREQUENCY_BUCKETS]
        self.sums = torch.zeros(len(self.buckets) + 1, 2, dtype=torch.float64, device=device)
        self.embedded = None

    def watch(self, model: nn.Module):
        def keep(module, inputs, output):
            if output.requires_grad:
                output.retain_grad()
                self.embedded = output
        return model.embedding.register_forward_hook(keep)

    def add(self, model: nn.Module, inputs: torch.Tensor) -> None:
        matrix = model.head.weight
        input_part = torch.zeros_like(matrix).index_add_(
            0, inputs.flatten(), self.embedded.grad.flatten(0, 1))
        output_part = matrix.grad - input_part
        parts = torch.stack([output_part.pow(2).sum(1), input_part.pow(2).sum(1)], 1).double()
        for b, (lo, hi) in enumerate(self.buckets):
            self.sums[b] += parts[lo:hi].sum(0).sqrt()
        self.sums[-1] += parts.sum(0).sqrt()

    def take(self):
        share = (self.sums[:, 0] / self.sums.sum(1)).tolist()
        self.sums.zero_()
        buckets = [None if hi <= lo else s for (lo, hi), s in zip(self.buckets, share)]
        return share[-1], buckets


# --- the plan -------------------------------------------------------------------------------------

GRID_EXTENSIONS = 2  # a best rate at the grid's edge adds up to this many rates beyond it


def grid_specs(config: FactorialConfig, arch: str, optimizer: str, rates) -> list[RunSpec]:
    """Grid runs of one architecture × optimizer: each rate, tied and untied, one seed, on the
    main corpus at the largest vocabulary cap."""
    cap = max(config.vocab_caps)
    return [RunSpec(config.corpus, arch, optimizer, cap, variant, config.grid_seed, lr,
                    "lr_grid") for lr in rates for variant in ("tied", "untied")]


def _extended(rates: list[float], best: float) -> list[float] | None:
    """The grid with one more rate beyond the edge where the best one lies (the grid's own
    ratio), or None when the best lies inside."""
    if len(rates) < 2 or min(rates) < best < max(rates):
        return None
    ratio = rates[-1] / rates[-2]
    beyond = rates[-1] * ratio if best == max(rates) else rates[0] / ratio
    beyond = float(f"{beyond:.3g}")  # 0.09, not 0.08999999999999998
    return sorted([*rates, beyond])


def choose_rates(grid_runs: list[dict]) -> dict[str, float]:
    """Per "arch/optimizer", the grid's rate with the lowest mean final validation perplexity
    over tied and untied (one rate for every variant)."""
    means: dict[tuple, list] = {}
    for run in grid_runs:
        means.setdefault((run["arch"], run["optimizer"], run["lr"]), []).append(run["valid_ppl"])
    best: dict[str, tuple] = {}
    for (arch, opt, lr), values in sorted(means.items()):
        score = sum(values) / len(values)
        score = score if math.isfinite(score) else math.inf
        if f"{arch}/{opt}" not in best or score < best[f"{arch}/{opt}"][1]:
            best[f"{arch}/{opt}"] = (lr, score)
    return {key: lr for key, (lr, _) in best.items()}


def main_specs(config: FactorialConfig, rates: dict[str, float]) -> list[RunSpec]:
    """The factorial's runs, in the order the JSON lists them: the main corpus at every cap,
    then each other corpus at the first cap."""
    cells = [(config.corpus, cap) for cap in config.vocab_caps]
    cells += [(corpus, config.vocab_caps[0]) for corpus in config.other_corpora]
    return [RunSpec(corpus, arch, opt, cap, variant, seed, rates[f"{arch}/{opt}"])
            for corpus, cap in cells for arch in config.archs for opt in config.optimizers
            for seed in config.seeds for variant in VARIANTS]


# --- running, resuming, sharding ------------------------------------------------------------------

def run_factorial(config: FactorialConfig, folder: str | Path, shard: tuple[int, int] = (1, 1),
                  device=None, log=print) -> dict:
    """Train every run of the experiment that shard `i` of `n` owns (every n-th, from the i-th;
    the grid is trained by every shard, or read from the folder), keeping each finished run as a
    file in `folder` (runs already there are not trained again). Returns this shard's results,
    which `merge_results` joins with the other shards' into the experiment's JSON."""
    index, count = shard
    if not 1 <= index <= count:
        raise ValueError(f"shard must be I/N with 1 <= I <= N, got {index}/{count}.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    datas: dict[tuple, LMData] = {}

    def run(spec: RunSpec) -> dict:
        path = folder / f"{spec.key}.json"
        if path.exists():
            return json.loads(path.read_text(encoding="utf-8"))
        key = (spec.corpus, spec.vocab_cap)
        if key not in datas:
            datas[key] = corpus_data(spec.corpus, spec.vocab_cap, config.max_train_tokens)
        record = train_run(datas[key], spec, config, device)
        path.with_suffix(".part").write_text(json.dumps(record), encoding="utf-8")
        path.with_suffix(".part").replace(path)  # a whole file or none
        log(f"{spec.key}: valid {record['valid_ppl']:.1f} test {record['test_ppl']:.1f} "
            f"({record['seconds']:.0f} s)")
        return record

    grid, rates = [], {}
    for arch in config.archs:
        for opt in config.optimizers:
            tried = sorted(LR_GRIDS[arch, opt])
            for extension in range(GRID_EXTENSIONS + 1):
                done = {r["lr"] for r in grid if (r["arch"], r["optimizer"]) == (arch, opt)}
                grid += [run(s) for s in grid_specs(config, arch, opt, tried) if s.lr not in done]
                rates.update(choose_rates(grid))
                wider = _extended(tried, rates[f"{arch}/{opt}"])
                if wider is None or extension == GRID_EXTENSIONS:
                    break
                tried = wider
    mine = main_specs(config, rates)[index - 1::count]
    return {"config": _config_json(config, rates), "lr_grid": grid,
            "runs": [run(spec) for spec in mine], "shard": [index, count]}


def corpus_data(corpus: str, vocab_cap: int, max_train_tokens: int | None = None) -> LMData:
    """The corpus prepared at `vocab_cap`, its training split cut to `max_train_tokens`."""
    text = load_corpus(corpus)
    if max_train_tokens is not None:  # before the vocabulary is built: it sees what is trained on
        text = dataclasses.replace(text, train=text.train[:max_train_tokens])
    return prepare(text, vocab_cap)


def _config_json(config: FactorialConfig, rates: dict[str, float]) -> dict:
    return {**{k: list(v) if isinstance(v, tuple) else v
               for k, v in dataclasses.asdict(config).items()},
            "lr_grids_start": {f"{a}/{o}": list(LR_GRIDS[a, o]) for a in config.archs
                         for o in config.optimizers},
            "chosen_lr": rates, "variants": list(VARIANTS),
            "frequency_buckets": [list(b) for b in FREQUENCY_BUCKETS]}


def merge_results(shards: list[dict]) -> dict:
    """Join the shards' results into the JSON one process would write: the runs in plan order."""
    if not shards:
        raise ValueError("merge_results needs at least one shard's results.")
    counts = {tuple(s["shard"])[1] for s in shards}
    indices = sorted(s["shard"][0] for s in shards)
    if len(counts) != 1 or indices != list(range(1, counts.pop() + 1)):
        raise ValueError(f"the shards must be 1..N of one N exactly once each, got "
                         f"{', '.join('/'.join(map(str, s['shard'])) for s in shards)}.")
    if any(s["config"] != shards[0]["config"] for s in shards):
        raise ValueError("the shards ran different experiments (their configs differ).")
    config = shards[0]["config"]
    count = len(shards)
    ordered = [None] * sum(len(s["runs"]) for s in shards)
    for s in shards:
        ordered[s["shard"][0] - 1::count] = s["runs"]
    return {"config": config, "lr_grid": shards[0]["lr_grid"], "runs": ordered}
