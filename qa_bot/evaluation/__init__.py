"""`python -m qa_bot eval`: answer quality on questions with known answers.

`questions` reads the question sets (SQuAD 2.0 JSON or JSONL, with the articles to index);
`scoring` asks them and judges each answer; `report` turns the judgements into figures, pooled
and per article. Several files (or folders of them) are each indexed alone, then pooled.
Imports `qa_bot.answer` and what it imports.
"""
