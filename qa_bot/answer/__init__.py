"""Answer: a question's whole path, from the reader's words to the Answer every interface shows.

`question` reads the question's words; `hits` holds what retrieval finds (no faiss, no model);
`lexicon` holds the index's words (stems, BM25, IDF) and `pieces` its sentences' word pieces
in context; `retrieval` finds passages and sentences with them and FAISS; `reader` runs the
reading model;
`grounding` and `phrases` are the hand-built checks kept as one input of confidence;
`result` defines the Answer and its Citations; `compose` chooses what is quoted;
`ask_request` is the ask contract and its limits; `bot` puts it together for one index.
Imports `qa_bot.indexing`, `qa_bot.encoder`, `qa_bot.ingest`, `qa_bot.config`, `qa_bot.errors`.
"""
