"""The question log: what readers asked and how it was answered (SQLite), and its statistics.

`log` records questions, answers and feedback; `stats` summarises them for the newsroom.
Imports `qa_bot.answer.result`, `qa_bot.config` and `qa_bot.errors`.
"""
