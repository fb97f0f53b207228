"""The emotion service over real gRPC with the shipped models: every head, every bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import grpc
import pytest
from rapport.emotion.v1 import emotion_service_pb2 as pb
from rapport.emotion.v1 import emotion_service_pb2_grpc as pb_grpc

from services.emotion.__main__ import build_servicer
from services.emotion.config import EmotionSettings
from services.emotion.grpc_server import EmotionServicer
from tests.expected_models import MODEL_VERSION_KEYS
from tests.grpc_probe import running

pytestmark = pytest.mark.integration

EMOTION = pb.DESCRIPTOR.services_by_name["EmotionService"].full_name
MAX_CHARS = 500
HEADS = MODEL_VERSION_KEYS


@pytest.fixture(scope="module")
def servicer() -> EmotionServicer:
    return build_servicer(
        EmotionSettings(metrics_port=0, grpc_port=0, max_text_chars=MAX_CHARS, max_batch_items=50)
    )


@pytest.fixture
async def stub(servicer: EmotionServicer) -> AsyncIterator[pb_grpc.EmotionServiceStub]:
    async with (
        running(
            lambda s: pb_grpc.add_EmotionServiceServicer_to_server(servicer, s), EMOTION
        ) as address,
        grpc.aio.insecure_channel(address) as channel,
    ):
        yield pb_grpc.EmotionServiceStub(channel)


async def analyze(
    stub: pb_grpc.EmotionServiceStub, text: str, hint: str = "", explain: bool = False
) -> pb.AnalyzeResponse:
    request = pb.AnalyzeRequest(text=text, language_hint=hint, include_drivers=explain)
    return await stub.Analyze(request, timeout=5)


async def test_an_angry_complaint_is_negative_urgent_and_explained(
    stub: pb_grpc.EmotionServiceStub,
) -> None:
    text = "This is RIDICULOUS, I am REALLY ANGRY with your service!!!"
    result = await analyze(stub, text, explain=True)
    assert result.language.code == "en" and result.language.supported
    assert result.dominant_emotion in {"anger", "frustration"}
    assert result.intensity >= 0.6
    assert result.sentiment.label == pb.SENTIMENT_LABEL_NEGATIVE
    assert result.urgency.level == pb.URGENCY_LEVEL_HIGH
    assert {"all_caps", "repeated_punctuation"} <= set(result.urgency.signals)
    assert result.drivers and all(d.weight > 0 for d in result.drivers)
    assert set(result.model_versions) == HEADS
    assert result.model_version in result.model_versions["emotion"].split("+")
    assert not (await analyze(stub, text)).drivers  # explained only on request


async def test_gratitude_is_positive_and_calm(stub: pb_grpc.EmotionServiceStub) -> None:
    result = await analyze(stub, "Thank you so much, you saved my day!")
    assert result.dominant_emotion in {"gratitude", "joy"}
    assert result.sentiment.label == pb.SENTIMENT_LABEL_POSITIVE
    assert result.urgency.level == pb.URGENCY_LEVEL_LOW
    scores = {e.label: e.score for e in result.emotions}
    assert len(scores) == 8 and all(0 <= s <= 1 for s in scores.values())


async def test_intents_and_the_unknown_outcome(stub: pb_grpc.EmotionServiceStub) -> None:
    assert (await analyze(stub, "where is my order?")).intent.name == "track_order"
    assert (await analyze(stub, "I want to talk to a real person")).intent.name in {
        "contact_human_agent",
        "contact_customer_service",
    }
    assert (await analyze(stub, "I want my money back")).intent.name in {
        "get_refund",
        "check_refund_policy",
        "track_refund",
    }
    unknown = await analyze(stub, "the giraffe painted a purple sonnet")
    assert unknown.intent.name == "unknown"


async def test_sarcasm_scores_irony_above_a_plain_statement(
    stub: pb_grpc.EmotionServiceStub,
) -> None:
    ironic = await analyze(
        stub, "Oh great, another delay. I just love waiting for weeks. Thanks a lot."
    )
    plain = await analyze(stub, "The parcel arrived on Tuesday afternoon.")
    assert 0 <= plain.sarcasm.score < ironic.sarcasm.score <= 1
    assert not plain.sarcasm.detected


async def test_languages_and_the_hint_for_text_too_short_to_tell(
    stub: pb_grpc.EmotionServiceStub,
) -> None:
    spanish = await analyze(stub, "Hola, mi pedido no ha llegado todavía y estoy muy enfadado")
    assert spanish.language.code == "es" and spanish.language.supported
    assert not spanish.language.from_hint
    emoji = await analyze(stub, "👍👍", hint="pt-BR")
    assert (emoji.language.code, emoji.language.from_hint) == ("pt", True)
    reply = await stub.Analyze(pb.AnalyzeRequest(text="ok thx", previous_language="en"), timeout=10)
    assert reply.language.code == "en"
    unsupported = await analyze(stub, "Дякую, все чудово, замовлення вже отримав")
    assert unsupported.language.code == "uk" and not unsupported.language.supported


@pytest.mark.parametrize(
    "text",
    [
        "😡😡😡",
        "\u200b\u200c\u200d",
        "مرحبا، أين طلبي؟",
        "e\u0301\u0301\u0301 cafe\u0301",
        "line one\nline two\r\nline three\ttab",
        "\x00\x01 control characters",
    ],
)
async def test_any_unicode_is_analysed_without_a_crash(
    stub: pb_grpc.EmotionServiceStub, text: str
) -> None:
    result = await analyze(stub, text)
    assert result.dominant_emotion and result.language.code


async def test_huge_text_is_analysed_on_its_prefix_and_flagged(
    stub: pb_grpc.EmotionServiceStub,
) -> None:
    result = await analyze(stub, "I am so angry. " * 1000)
    assert result.truncated and result.analysed_chars == MAX_CHARS
    assert not (await analyze(stub, "short")).truncated


async def test_empty_text_is_refused_with_a_clear_message(
    stub: pb_grpc.EmotionServiceStub,
) -> None:
    for text in ("", "   \n\t "):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await analyze(stub, text)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert caught.value.details() == "text is empty"


async def test_a_batch_answers_in_order_and_names_its_first_bad_item(
    stub: pb_grpc.EmotionServiceStub,
) -> None:
    texts = ["Thank you so much!", "where is my order", "I am furious!!!"]
    response = await stub.AnalyzeBatch(
        pb.AnalyzeBatchRequest(items=[pb.AnalyzeRequest(text=t) for t in texts]), timeout=5
    )
    single = [await analyze(stub, t) for t in texts]
    assert [r.dominant_emotion for r in response.results] == [s.dominant_emotion for s in single]
    assert [r.intent.name for r in response.results] == [s.intent.name for s in single]
    assert all(not r.drivers for r in response.results)

    bad_batches = {
        "items is empty": [],
        "items[1]: text is empty": ["fine", " "],
        "51 items; the limit is 50 per call": ["x"] * 51,
    }
    for message, items in bad_batches.items():
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.AnalyzeBatch(
                pb.AnalyzeBatchRequest(items=[pb.AnalyzeRequest(text=t) for t in items]),
                timeout=5,
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert caught.value.details() == message


def _reads_no_feelings(result: pb.AnalyzeResponse) -> bool:
    """Whether ``result`` says nothing of the customer's feelings (language and intent only)."""
    return not (
        result.emotions
        or result.dominant_emotion
        or result.detected_emotions
        or result.drivers
        or result.model_version
        or result.intensity
        or any(result.HasField(f) for f in ("sentiment", "sarcasm", "urgency", "needs_person"))
    )


async def test_an_opted_out_message_is_read_for_language_and_intent_only(
    stub: pb_grpc.EmotionServiceStub,
) -> None:
    text = "¿Dónde está mi pedido? ¡Estoy FURIOSO, es inaceptable!!!"
    full = await analyze(stub, text)
    assert full.emotions and full.dominant_emotion  # what the opted-out answer leaves out
    only = await stub.Analyze(
        pb.AnalyzeRequest(
            text=text, include_drivers=True, include_embedding=True, language_and_intent_only=True
        ),
        timeout=5,
    )
    assert _reads_no_feelings(only)
    assert (only.language.code, only.intent.name) == (full.language.code, full.intent.name)
    assert only.language.code == "es" and only.intent.name == "track_order"
    assert only.embedding and only.embedding_model
    assert set(only.model_versions) == HEADS


async def test_a_batch_reads_feelings_only_of_the_items_that_allow_it(
    stub: pb_grpc.EmotionServiceStub,
) -> None:
    texts = ["I am furious, where is my order?!", "Je suis furieux, où est ma commande ?"]
    items = [
        pb.AnalyzeRequest(text=text, language_and_intent_only=only)
        for text in texts
        for only in (False, True)
    ]
    response = await stub.AnalyzeBatch(
        pb.AnalyzeBatchRequest(items=items, include_drivers=True), timeout=5
    )
    single = [await analyze(stub, t, explain=True) for t in texts]
    for i, text in enumerate(texts):
        allowed, opted_out = response.results[2 * i], response.results[2 * i + 1]
        assert allowed.emotions and allowed.dominant_emotion == single[i].dominant_emotion, text
        assert _reads_no_feelings(opted_out), text
        assert opted_out.language == allowed.language and opted_out.intent == allowed.intent


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


async def test_a_message_embedding_is_sent_only_when_asked_and_meets_embedded_questions(
    stub: pb_grpc.EmotionServiceStub,
) -> None:
    plain = await analyze(stub, "how long does delivery take to Lyon?")
    assert not plain.embedding and not plain.embedding_model
    questions = ["How long does shipping take?", "What are your opening hours?"]
    embedded = await stub.Embed(pb.EmbedRequest(texts=questions), timeout=10)
    spaces = {space.model: [list(v.values) for v in space.vectors] for space in embedded.spaces}
    assert len(spaces) == 2 and all(len(vectors) == 2 for vectors in spaces.values())
    for text, hint in (
        ("how long does delivery take to Lyon?", ""),
        ("¿cuánto tarda el envío?", "es"),
    ):
        asked = await stub.Analyze(
            pb.AnalyzeRequest(text=text, language_hint=hint, include_embedding=True), timeout=5
        )
        delivery, hours = spaces[asked.embedding_model]
        assert _cosine(asked.embedding, delivery) > _cosine(asked.embedding, hours)
    batch = await stub.AnalyzeBatch(
        pb.AnalyzeBatchRequest(
            items=[
                pb.AnalyzeRequest(text="hello", include_embedding=True),
                pb.AnalyzeRequest(text="hi"),
            ]
        ),
        timeout=5,
    )
    assert [bool(r.embedding) for r in batch.results] == [True, False]
    # A request about the customer's own order is not looked up in the knowledge: its
    # caller says so, and gets the reading without the embedding; other intents keep it.
    skipped = ["track_order", "cancel_order"]
    batch = await stub.AnalyzeBatch(
        pb.AnalyzeBatchRequest(
            items=[
                pb.AnalyzeRequest(
                    text=text, include_embedding=True, no_embedding_for_intents=skipped
                )
                for text in ("Where is my order?", "how long does delivery take to Lyon?")
            ]
        ),
        timeout=5,
    )
    assert [r.intent.name for r in batch.results][0] == "track_order"
    assert [bool(r.embedding) for r in batch.results] == [False, True]
    assert batch.results[1].intent.name not in skipped


async def test_embed_refuses_what_it_cannot_embed(stub: pb_grpc.EmotionServiceStub) -> None:
    bad = {
        "texts is empty": [],
        "texts[1] is empty": ["fine", "  "],
        "51 texts; the limit is 50 per call": ["x"] * 51,
    }
    for message, texts in bad.items():
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Embed(pb.EmbedRequest(texts=texts), timeout=5)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert caught.value.details() == message
