"""Ingest: read the corpus, split it into passages and sentences, annotate names and phrases.

Text work at build time, with no model of ours and no index. Imports only `qa_bot.errors` and
`qa_bot.config`.
"""
