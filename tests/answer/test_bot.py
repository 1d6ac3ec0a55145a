"""The answer cache of QABot: same question, same source, no history, same build."""

from qa_bot.answer.bot import AnswerCache, QABot
from qa_bot.answer.question import Turn
from qa_bot.indexing.build import build_index
from tests.support import ARTICLE, MODEL, write

QUESTION = "Where did the special forces train?"


class CountingEncoder:
    """The bot's encoder, counting its calls: a cached answer makes none."""

    def __init__(self, bot: QABot) -> None:
        self.encoder = bot.encoder
        self.encoded = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.encoder, name)

    def encode_tokens(self, texts):  # type: ignore[no-untyped-def]
        self.encoded += 1
        return self.encoder.encode_tokens(texts)


def counting_bot(index, embedder) -> tuple[QABot, CountingEncoder]:  # type: ignore[no-untyped-def]
    bot = QABot(index, embedder)
    counter = CountingEncoder(bot)
    bot.encoder = counter  # type: ignore[assignment]
    bot._retriever = bot._load()  # the retriever encodes through the counter
    return bot, counter


def test_a_repeated_question_is_answered_from_the_cache_with_a_fresh_id(
    article_index, embedder
) -> None:
    bot, counter = counting_bot(article_index, embedder)
    first = bot.ask(QUESTION)
    calls = counter.encoded  # the question, and its candidate sentences piece by piece
    again = bot.ask("  Where did the special   forces train? ")
    assert counter.encoded == calls
    assert again.answer == first.answer and again.citations == first.citations
    assert again.id != first.id and len(again.id) == 32
    assert again.question == "Where did the special   forces train?"  # as asked, trimmed
    bot.ask(QUESTION, source="north-korea-troops-ukraine.txt")  # another source: not cached
    calls += 1  # its sentences' pieces were kept
    assert counter.encoded == calls
    bot.ask(QUESTION, history=[])  # empty history is no history
    assert counter.encoded == calls
    history = [Turn("user", "How many special forces arrived?")]
    bot.ask(QUESTION, history)
    bot.ask(QUESTION, history)
    assert counter.encoded >= calls + 2  # with history: never cached


def test_a_new_build_empties_the_cache(tmp_path, embedder) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    write(corpus, "article.txt", ARTICLE.read_text(encoding="utf-8"))
    build_index(corpus, index, MODEL, embedder=embedder)
    bot, counter = counting_bot(index, embedder)
    bot.ask("Who won the cup final?")
    first = counter.encoded
    bot.ask("Who won the cup final?")
    assert counter.encoded == first and len(bot.cache) == 1
    write(corpus, "sport.txt", "The away team won the cup final 2-0 on Sunday.")
    build_index(corpus, index, MODEL, embedder=embedder)
    answer = bot.ask("Who won the cup final?")
    assert "away team" in answer.answer and len(bot.cache) == 1
    assert counter.encoded > first


def test_the_cache_is_bounded_and_keeps_the_recently_used() -> None:
    cache = AnswerCache(2)
    answers = {name: object() for name in "abc"}
    for name in "ab":
        cache.put("", (name, None), answers[name])  # type: ignore[arg-type]
    assert cache.get("build-1", ("a", None)) is None  # a new build: emptied
    for name in "ab":
        cache.put("build-1", (name, None), answers[name])  # type: ignore[arg-type]
    assert cache.get("build-1", ("a", None)) is answers["a"]
    cache.put("build-1", ("c", None), answers["c"])  # type: ignore[arg-type]
    assert cache.get("build-1", ("b", None)) is None  # least recently used went
    assert cache.get("build-1", ("a", None)) is answers["a"] and len(cache) == 2
    cache.put("build-0", ("x", None), answers["c"])  # type: ignore[arg-type] # an older build's
    assert cache.get("build-1", ("x", None)) is None
