"""Export a sentence-transformers model to ONNX int8: the one step that imports torch.

`python -m qa_bot.encoder.onnx_export [MODEL_FOLDER]` (default: QA_BOT_MODEL, else the bundled
model) writes `model-int8.onnx` and `encoder.json` into the model's folder in the cache
(`QA_BOT_CACHE`), where `qa_bot.encoder.embedding` finds them, unless they are there already.
`make install` runs it, and `Embedder.load` runs it in a child process when the artifact is
missing or the weights changed. The result is byte-identical on every run with the same
packages, so a re-export does not invalidate an index.

The transformer is exported (opset 17, TorchScript exporter, dynamic batch and sequence axes)
and quantized with onnxruntime's dynamic quantization, per-channel int8 weights: per-tensor
weights lose too much (cosine 0.967-0.976 to sentence-transformers; ../shared/MEASURED.md).
The feed-forward layers stay fp32 (_feed_forward_layers): int8 there costs answer quality.
Pooling and normalisation stay in numpy (embedding.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, cast

from qa_bot.config import set_environment_defaults
from qa_bot.encoder.embedding import (
    ONNX_FILE,
    RECORD_FILE,
    EncoderRecord,
    encoder_folder,
    exported_encoder,
    file_sha256,
    model_fingerprint,
    weights_stamp,
)
from qa_bot.errors import ConfigError

OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
FEED_FORWARD = re.compile(r"/layer\.\d+/(intermediate|output)/dense/MatMul$")


def export_encoder(model_path: str) -> EncoderRecord:
    """Export and quantize the model in `model_path`; replaces the cached artifact atomically."""
    set_environment_defaults()
    stamp, fingerprint = weights_stamp(model_path), model_fingerprint(model_path)
    folder = encoder_folder(model_path)
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".export-"))
    work.chmod(0o755)
    try:
        dimension, max_tokens = _export_fp32(model_path, work / "model-fp32.onnx")
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(
            work / "model-fp32.onnx",
            work / ONNX_FILE,
            per_channel=True,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=_feed_forward_layers(work / "model-fp32.onnx"),
        )
        (work / "model-fp32.onnx").unlink()
        record = EncoderRecord(
            str(Path(model_path).resolve()),
            stamp,
            fingerprint,
            file_sha256(work / ONNX_FILE),
            dimension,
            max_tokens,
        )
        (work / RECORD_FILE).write_text(record.to_json(), encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        os.rename(work, folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return record


def _feed_forward_layers(path: Path) -> list[str]:
    """The two MatMuls of each layer's feed-forward block: they stay fp32.

    Measured against sentence-transformers on the sentences of the article and of the Normans
    article, and with `eval` on Normans (BENCHMARKS.md, section E): everything quantized gives
    a worst cosine of 0.985 and loses 2.1 points of answers containing the gold answer; the
    feed-forward output alone in fp32, 0.991 and still 2.1 points; both feed-forward MatMuls in
    fp32, 0.996 and the same answers as sentence-transformers, at about 0.85x fp32's time."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return [
        node.name
        for node in graph.node
        if node.op_type == "MatMul" and FEED_FORWARD.search(node.name)
    ]


def _export_fp32(model_path: str, target: Path) -> tuple[int, int]:
    """Write the transformer as fp32 ONNX; returns (dimension, max_seq_length)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    model = SentenceTransformer(model_path, device="cpu")
    pooling = json.loads((Path(model_path) / "1_Pooling" / "config.json").read_text())
    if not pooling.get("pooling_mode_mean_tokens"):
        raise ConfigError(
            f"{model_path} does not mean-pool its tokens; qa_bot's encoder "
            "needs a mean-pooled sentence-transformers model."
        )
    transformer = cast(Any, model[0]).auto_model.eval()  # the Transformer module, untyped

    class LastHiddenState(torch.nn.Module):
        """The transformer called by keyword, as recent transformers versions require."""

        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = model.tokenizer(
        ["a short text", "a slightly longer text to pad"], padding=True, return_tensors="pt"
    )
    axes = {name: {0: "batch", 1: "sequence"} for name in (*INPUTS, "last_hidden_state")}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer notes about Python control flow in BERT
        torch.onnx.export(
            LastHiddenState(),
            tuple(sample[name] for name in INPUTS),
            str(target),
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    dimension, max_length = model.get_embedding_dimension(), model.max_seq_length
    if dimension is None or max_length is None:
        raise ConfigError(
            f"{model_path} does not say its dimension and max_seq_length; qa_bot's "
            "encoder needs a sentence-transformers model that does."
        )
    return int(dimension), int(max_length)


def main(argv: list[str]) -> int:
    from qa_bot.config import Settings

    model_path = argv[0] if argv else Settings.from_env().model_path
    record = exported_encoder(model_path) or export_encoder(model_path)
    print(
        f"{model_path} exported to {encoder_folder(model_path)} ({record.encoder[:29]}...)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
