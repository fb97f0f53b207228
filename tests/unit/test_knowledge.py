"""The business's knowledge: a folder read and checked as a business writes it, articles
matched by embedding with a calibrated score, the folder kept current while the service
runs, and the bot's replies from it (pure planning and the inbound handler)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
import yaml
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import handoff_pb2

from services.orchestrator.handlers import InboundHandler
from services.orchestrator.handoff import summary
from services.orchestrator.knowledge.articles import (
    KnowledgeError,
    article_files,
    article_paths,
    read_folder,
)
from services.orchestrator.knowledge.cli import rates
from services.orchestrator.knowledge.index import KnowledgeIndex, Scoring, SpaceScoring
from services.orchestrator.knowledge.library import KnowledgeLibrary, index_of
from services.orchestrator.policy import Facts, Policy
from shared.errors import DependencyUnavailableError
from shared.kafka.topics import HANDOFF
from shared.voice.replies import VOICE
from tests.fakes.ports import (
    KEYWORD_SPACE,
    FakePublisher,
    InMemoryContext,
    StubEmotion,
    inbound_message,
    keyword_vector,
)

DEMO = Path(__file__).resolve().parents[2] / "knowledge"
ARTICLE = {
    "id": "delivery-times",
    "title": "How long does delivery take?",
    "questions": ["How long does delivery take?", "¿Cuánto tarda el envío?"],
    "answer": {
        "en": "Two to three working days in France.",
        "es": "De dos a tres días laborables.",
    },
}
KEYWORD_SCORING = Scoring(2, {KEYWORD_SPACE: SpaceScoring(margin_weight=0.0, threshold=0.5)})


def _write(folder: Path, name: str, document: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(
        document if isinstance(document, str) else yaml.safe_dump(document, allow_unicode=True)
    )
    return path


def test_the_demo_knowledge_is_valid_and_answers_in_every_language_of_the_voice() -> None:
    articles = read_folder(DEMO)
    assert len(articles) >= 8
    assert {"delivery-times", "returns", "refunds", "opening-hours", "payment-methods"} <= {
        a.id for a in articles
    }
    for article in articles:
        assert set(article.answers) == set(VOICE.languages)


def test_a_malformed_folder_is_refused_naming_every_file_and_field(tmp_path: Path) -> None:
    _write(tmp_path, "good.yaml", ARTICLE)
    _write(tmp_path, "same-id.yaml", ARTICLE)
    _write(tmp_path, "broken.yaml", "id: [unclosed\n")
    _write(
        tmp_path,
        "bad.yml",
        {"id": "Bad Id!", "questions": [], "answer": {"es": "Hola"}, "extra": 1},
    )
    _write(
        tmp_path / "sub",
        "voice.yaml",
        {
            **ARTICLE,
            "id": "pushy",
            "answer": {"en": "Unfortunately not.", "xx": "?"},
            "escalate": "yes",
        },
    )
    _write(tmp_path, "notes.txt", "not an article, ignored")
    with pytest.raises(KnowledgeError) as caught:
        read_folder(tmp_path)
    problems = {(p.path.name, p.field) for p in caught.value.problems}
    assert problems == {
        ("same-id.yaml", "id"),
        ("broken.yaml", ""),
        ("bad.yml", "extra"),
        ("bad.yml", "id"),
        ("bad.yml", "title"),
        ("bad.yml", "questions"),
        ("bad.yml", "answer"),
        ("voice.yaml", "answer.en"),
        ("voice.yaml", "answer.xx"),
        ("voice.yaml", "escalate"),
    }
    message = str(caught.value)
    assert "same-id.yaml: id: 'delivery-times' is also the id in" in message
    assert "needs the voice's default language 'en'" in message
    assert "words the brand voice never says: ['Unfortunately']" in message
    with pytest.raises(KnowledgeError, match="is not a folder"):
        read_folder(tmp_path / "missing")


def _index(
    vectors: Mapping[str, Sequence[float]], scoring: Scoring = KEYWORD_SCORING
) -> KnowledgeIndex:
    articles = read_folder(DEMO)
    by_text = {q: vectors.get(a.id, [0.0] * 5) for a in articles for q in a.questions}
    return index_of(articles, {KEYWORD_SPACE: by_text}, scoring)


def test_the_best_article_answers_only_when_its_score_reaches_the_space_threshold() -> None:
    index = _index(
        {"delivery-times": keyword_vector("deliver"), "opening-hours": keyword_vector("open")}
    )
    match = index.match(KEYWORD_SPACE, keyword_vector("when do you deliver"))
    assert match is not None and match.article.id == "delivery-times" and match.answers
    assert match.similarity == pytest.approx(1.0) and match.runner_up == pytest.approx(0.0)
    mixed = index.match(KEYWORD_SPACE, keyword_vector("deliver and open"))
    assert mixed is not None and mixed.similarity == pytest.approx(0.7071, abs=1e-4)
    strict = _index(
        {"delivery-times": keyword_vector("deliver")},
        Scoring(2, {KEYWORD_SPACE: SpaceScoring(0.0, 0.9)}),
    )
    below = strict.match(KEYWORD_SPACE, keyword_vector("deliver and open"))
    assert below is not None and not below.answers
    assert index.match("another-model", keyword_vector("deliver")) is None
    uncalibrated = _index({"delivery-times": keyword_vector("deliver")}, Scoring(2, {}))
    never = uncalibrated.match(KEYWORD_SPACE, keyword_vector("deliver"))
    assert never is not None and never.similarity == pytest.approx(1.0) and not never.answers


def test_the_margin_over_the_runner_up_counts_and_one_article_has_none() -> None:
    scoring = SpaceScoring(margin_weight=2.0, threshold=1.0)
    assert scoring.score(0.6, 0.3) == pytest.approx(1.2)
    articles = read_folder(DEMO)[:1]
    vectors = {KEYWORD_SPACE: {q: keyword_vector("deliver") for q in articles[0].questions}}
    alone = index_of(articles, vectors, Scoring(2, {KEYWORD_SPACE: scoring}))
    match = alone.match(KEYWORD_SPACE, keyword_vector("deliver and open"))
    assert match is not None and match.score == match.similarity


def test_rates_count_right_answers_refusals_and_precision() -> None:
    r = rates(["a", None, "b", "a", None], ["a", "a", None, "b", None])
    assert (r.in_scope_accuracy, r.oos_recall, r.answered_precision, r.n) == (1 / 3, 0.5, 1 / 3, 5)
    assert r.line() == "in_scope_accuracy=0.333 oos_recall=0.500 answered_precision=0.333 n=5"
    assert (
        rates([None], ["a"]).line()
        == "in_scope_accuracy=0.000 oos_recall=0.000 answered_precision=0.000 n=1"
    )


class CountingEmbedder:
    def __init__(self) -> None:
        self.texts: list[str] = []
        self.available = True

    async def __call__(self, texts: Sequence[str]) -> dict[str, list[list[float]]]:
        if not self.available:
            raise DependencyUnavailableError("UNAVAILABLE: emotion is down")
        self.texts += texts
        return {KEYWORD_SPACE: [keyword_vector(t) for t in texts]}


def _delivery_library(tmp_path: Path) -> tuple[Path, CountingEmbedder, KnowledgeLibrary]:
    """A folder with the delivery article, read by a library that embeds with keywords."""
    folder = tmp_path / "knowledge"
    _write(folder, "delivery.yaml", ARTICLE)
    embed = CountingEmbedder()
    library = KnowledgeLibrary(folder, embed, KEYWORD_SCORING)
    library.read()
    return folder, embed, library


async def test_the_library_follows_the_folder_keeps_the_last_good_one_and_embeds_once(
    tmp_path: Path,
) -> None:
    folder, embed, library = _delivery_library(tmp_path)
    embed.available = False
    with pytest.raises(DependencyUnavailableError):
        await library.refresh()
    assert library.current is None
    embed.available = True
    await library.refresh()
    assert library.current is not None and [a.id for a in library.current.articles] == [
        "delivery-times"
    ]
    assert sorted(embed.texts) == sorted(ARTICLE["questions"])

    second = _write(
        folder,
        "hours.yaml",
        {
            **ARTICLE,
            "id": "hours",
            "questions": ["When are you open?", "How long does delivery take?"],
        },
    )
    await library.refresh()
    assert [a.id for a in library.current.articles] == ["delivery-times", "hours"]
    assert embed.texts.count("How long does delivery take?") == 1  # not embedded again

    second.write_text("id: [broken\n")
    os.utime(second, ns=(second.stat().st_mtime_ns + 10**9,) * 2)
    await library.refresh()
    assert [a.id for a in library.current.articles] == ["delivery-times", "hours"]

    second.unlink()
    await library.refresh()
    assert [a.id for a in library.current.articles] == ["delivery-times"]


def _configmap_version(folder: Path, stamp: str, articles: Mapping[str, object]) -> None:
    """Publish ``articles`` as the kubelet updates a ConfigMap volume: the files in a new
    hidden folder, ``..data`` swapped to it at once, a visible symlink per file."""
    for name, document in articles.items():
        _write(folder / stamp, name, document)
    (folder / "..data_tmp").symlink_to(stamp)
    (folder / "..data_tmp").replace(folder / "..data")
    for name in articles:
        if not (folder / name).is_symlink():
            (folder / name).symlink_to(Path("..data") / name)


async def test_a_configmap_volume_is_read_once_per_article_and_followed_when_swapped(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "knowledge"
    _configmap_version(folder, "..2026_01_01_00_00_00.1", {"delivery.yaml": ARTICLE})
    assert [a.source.name for a in read_folder(folder)] == ["delivery.yaml"]
    embed = CountingEmbedder()
    library = KnowledgeLibrary(folder, embed, KEYWORD_SCORING)
    library.read()
    await library.refresh()
    assert library.current is not None
    assert [a.id for a in library.current.articles] == ["delivery-times"]

    _configmap_version(
        folder,
        "..2026_01_01_00_01_00.2",
        {"delivery.yaml": ARTICLE, "hours.yaml": {**ARTICLE, "id": "hours"}},
    )
    await library.refresh()
    assert [a.id for a in library.current.articles] == ["delivery-times", "hours"]


def test_the_folder_walk_lists_what_a_walk_by_paths_lists_in_the_same_order(
    tmp_path: Path,
) -> None:
    """The files read are the visible YAML files (links to files followed, links to
    folders not), ordered by their paths' parts as paths sort, whatever the names."""
    folder = tmp_path / "knowledge"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "linked-away.yaml").write_text("id: x\n")
    names = [
        "b.yaml",
        "a-b/x.yml",
        "a/x.yaml",
        "a/z/deep.yaml",
        "A.yaml",
        "notes.md",
        "a.b.yaml",
        "dir.yaml/inside.yaml",
        ".hidden.yaml",
        ".private/x.yaml",
        "a/.x.yaml",
    ]
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("id: x\n")
    (folder / "to-a-file.yaml").symlink_to(elsewhere / "linked-away.yaml")
    (folder / "to-a-folder").symlink_to(elsewhere)
    (folder / "to-nothing.yaml").symlink_to(tmp_path / "missing.yaml")
    by_paths = sorted(
        p
        for p in folder.rglob("*")
        if p.suffix in {".yaml", ".yml"}
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    assert article_files(folder) == by_paths
    assert article_paths(folder) == [str(p) for p in by_paths]
    assert [p.relative_to(folder).as_posix() for p in by_paths] == [
        "A.yaml",
        "a/x.yaml",
        "a/z/deep.yaml",
        "a-b/x.yml",
        "a.b.yaml",
        "b.yaml",
        "dir.yaml/inside.yaml",
        "to-a-file.yaml",
    ]


class FixedKnowledge:
    def __init__(self, index: KnowledgeIndex | None) -> None:
        self.current = index


def _handler(
    context: InMemoryContext,
    publisher: FakePublisher,
    emotion: StubEmotion,
    index: KnowledgeIndex | None,
) -> InboundHandler:
    return InboundHandler(
        emotion=emotion,
        context=context,
        publisher=publisher,
        policy=Policy.load(),
        bot_name="Robin",
        context_turns=20,
        knowledge=FixedKnowledge(index),
    )


def _demo_index() -> KnowledgeIndex:
    return _index(
        {
            "delivery-times": keyword_vector("deliver"),
            "opening-hours": keyword_vector("open"),
            "payment-methods": keyword_vector("pay"),
            "warranty": keyword_vector("broke"),
        }
    )


async def test_a_question_in_the_knowledge_is_answered_from_its_article_and_recorded() -> None:
    context, publisher, emotion = InMemoryContext(), FakePublisher(), StubEmotion()
    inbound = inbound_message("when do you open on saturdays?")
    await _handler(context, publisher, emotion, _demo_index())(inbound)
    [(_, reply)] = publisher.published
    hours = next(a for a in read_folder(DEMO) if a.id == "opening-hours")
    assert hours.answers["en"] in reply.text
    assert reply.text.endswith(VOICE.knowledge_check("en"))
    assert emotion.embeddings_asked == [True]
    bot_turn = next(t for t in context.turns.values() if t.role == context_pb.ROLE_BOT)
    facts = json.loads(bot_turn.decision.facts_json)
    assert facts["knowledge_article"] == "opening-hours" and facts["knowledge_answers"]
    assert bot_turn.decision.template == "knowledge/opening-hours"
    [reason] = [r for r in bot_turn.decision.reasons if r.code == "answered_from_knowledge"]
    assert "'opening-hours'" in reason.explanation


async def test_an_article_that_asks_for_a_person_answers_and_hands_over() -> None:
    context, publisher, emotion = InMemoryContext(), FakePublisher(), StubEmotion()
    await _handler(context, publisher, emotion, _demo_index())(
        inbound_message("my lamp broke after a month")
    )
    (_, reply), (topic, handoff) = publisher.published
    assert topic == HANDOFF and isinstance(handoff, handoff_pb2.HandoffRequested)
    assert "knowledge_asks_for_a_person" in [r.code for r in handoff.reasons]
    assert "The bot answered from the knowledge articles: warranty." in handoff.summary
    assert VOICE.handoff_note("en") in reply.text and VOICE.knowledge_check("en") not in reply.text


async def test_what_the_knowledge_cannot_answer_is_said_plainly_with_a_person_offered() -> None:
    context, publisher, emotion = InMemoryContext(), FakePublisher(), StubEmotion()
    await _handler(context, publisher, emotion, _demo_index())(
        inbound_message("do you sell gift cards?")
    )
    [(_, reply)] = publisher.published
    assert VOICE.knowledge_unknown("en") in reply.text
    assert VOICE.answer("en", "unknown") not in reply.text


async def test_without_knowledge_no_embedding_is_asked_and_the_bot_asks_what_is_needed() -> None:
    for index in (None, index_of((), {}, KEYWORD_SCORING)):
        context, publisher, emotion = InMemoryContext(), FakePublisher(), StubEmotion()
        await _handler(context, publisher, emotion, index)(
            inbound_message("do you sell gift cards?")
        )
        [(_, reply)] = publisher.published
        assert VOICE.answer("en", "unknown") in reply.text
        assert emotion.embeddings_asked == [False]


async def test_thanks_is_not_a_question_the_knowledge_failed_to_answer() -> None:
    context, publisher, emotion = InMemoryContext(), FakePublisher(), StubEmotion()
    await _handler(context, publisher, emotion, _demo_index())(inbound_message("great, thank you!"))
    [(_, reply)] = publisher.published
    assert VOICE.knowledge_unknown("en") not in reply.text


async def test_a_request_about_the_customers_own_order_gets_the_intents_answer() -> None:
    """'When will my order be delivered' is near the delivery article, but the customer
    wants their order tracked: the intent's answer asks for what tracking needs, and the
    knowledge is not looked in (the emotion service is told not to embed such requests)."""
    context, publisher, emotion = InMemoryContext(), FakePublisher(), StubEmotion()
    await _handler(context, publisher, emotion, _demo_index())(
        inbound_message("when will my order be delivered?")
    )
    [(_, reply)] = publisher.published
    assert VOICE.answer("en", "track_order") in reply.text
    bot_turn = next(t for t in context.turns.values() if t.role == context_pb.ROLE_BOT)
    facts = json.loads(bot_turn.decision.facts_json)
    assert facts["knowledge_article"] == "" and not facts["knowledge_answers"]


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("do you sell gift cards", True),
        ("Hello, how long does delivery take", True),
        ("¿Tenéis tarjetas regalo?", True),
        ("Bonjour, est-ce que vous livrez en Suisse", True),
        ("wie lange dauert der Versand", True),
        ("Thank you so much, that was very helpful!", False),
        ("What a great service, thanks", False),
        ("how long for a parcel to Spain", True),
        ("ok thx", False),
        ("Vielen Dank!", False),
    ],
)
def test_a_question_is_told_from_a_statement(text: str, asks: bool) -> None:
    assert Policy.load().asks_a_question(text) is asks


async def test_the_handoff_tells_the_agent_which_articles_the_bot_already_answered_with() -> None:
    context, publisher, emotion = InMemoryContext(), FakePublisher(), StubEmotion()
    handler = _handler(context, publisher, emotion, _demo_index())
    await handler(inbound_message("when do you open?"))
    await handler(inbound_message("do you sell gift cards?"))
    await handler(inbound_message("I want to talk to a person"))
    handoff = next(e for _, e in publisher.published if isinstance(e, handoff_pb2.HandoffRequested))
    assert "The bot answered from the knowledge articles: opening-hours." in handoff.summary


def test_the_handoff_summary_says_when_the_knowledge_had_no_answer() -> None:
    unanswered = Facts(emotion_available=True, knowledge_article="contact", asks_question=True)
    assert summary("Asked about gift cards.", unanswered, []) == (
        "Asked about gift cards. Nothing in the knowledge answered the latest question."
    )
    thanks = Facts(emotion_available=True, knowledge_article="contact", asks_question=False)
    assert summary("", thanks, []) == ""


async def test_the_first_index_waits_for_the_emotion_service_but_not_past_a_stop(
    tmp_path: Path,
) -> None:
    _, embed, library = _delivery_library(tmp_path)
    embed.available = False
    stop = asyncio.Event()
    assert not await library.first_index(stop, within_seconds=0.05, retry_seconds=0.01)
    stop.set()
    started = asyncio.get_running_loop().time()
    assert not await library.first_index(stop, within_seconds=30)
    assert asyncio.get_running_loop().time() - started < 1
    embed.available = True
    assert await library.first_index(asyncio.Event(), within_seconds=1)
    assert library.current is not None
