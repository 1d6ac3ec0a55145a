"""Encoder: all-MiniLM-L6-v2 as served (ONNX int8 through onnxruntime) and its export.

`embedding` encodes passages, sentences and questions; `onnx_export` is the one step that
needs torch. Imports only `qa_bot.errors` and `qa_bot.config`.
"""
