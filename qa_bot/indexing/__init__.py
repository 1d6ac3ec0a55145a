"""Indexing: build the index of a corpus and read it back.

`build` runs ingest and the encoder over a corpus and writes a build folder atomically;
`builds` keeps the build folders and the CURRENT pointer; `store` loads a build's files and
checks them; `manifest` says what a build was made with; `vectors` is the FAISS index.
Imports `qa_bot.ingest`, `qa_bot.encoder`, `qa_bot.config` and `qa_bot.errors`.
"""
