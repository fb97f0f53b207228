from __future__ import annotations

import copy
import itertools
from datetime import date
from typing import Any

import pytest
import yaml
from rapport.common.v1 import envelope_pb2
from rapport.emotion.v1 import emotion_service_pb2 as emotion_pb
from rapport.events.v1 import messages_pb2

from services.orchestrator.attachments import KINDS
from services.orchestrator.dialogue import ASKS_FOR_PRODUCT
from services.orchestrator.handlers import InboundHandler
from services.orchestrator.policy import Policy
from shared.kafka.codec import new_envelope
from shared.voice.replies import (
    DEFAULT_VOICE,
    SMS_TEXTS,
    TIERS,
    VOICE,
    EarlierContact,
    Voice,
    VoiceError,
)
from tests.fakes.ports import FakePublisher, InMemoryContext, StubEmotion

LANGUAGES = ("en", "es", "fr", "de", "pt")
INTENSITY = {"low": 0.1, "medium": 0.5, "high": 0.9}


def _document() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(DEFAULT_VOICE.read_text(encoding="utf-8")))


def test_the_library_covers_the_five_languages_and_every_intent() -> None:
    assert set(LANGUAGES) <= set(VOICE.languages)
    assert "unknown" in VOICE.intents
    assert {"track_order", "get_refund", "cancel_order", "payment_issue", "complaint"} <= set(
        VOICE.intents
    )


def test_every_combination_renders_without_banned_words() -> None:
    contact = EarlierContact("whatsapp", date(2026, 3, 14))
    rendered = 0
    for language, intent, emotion, level in itertools.product(
        VOICE.languages, VOICE.intents, VOICE.emotions, TIERS
    ):
        for first, handoff, order in [(True, True, "A-1001"), (False, False, "")]:
            reply = VOICE.compose_reply(
                language=language,
                intent=intent,
                emotion=emotion,
                intensity=INTENSITY[level],
                first_bot_message=first,
                first_name="Ana" if first else "",
                order_reference=order,
                earlier_contact=contact if first else None,
                handoff=handoff,
            )
            assert reply.language == language
            assert reply.text.strip() and "{" not in reply.text and "  " not in reply.text
            assert VOICE.banned_words_in(reply.text) == [], (language, intent, emotion, level)
            rendered += 1
    for language, sensitive, first in itertools.product(
        VOICE.languages, (True, False), (True, False)
    ):
        reply = VOICE.holding_reply(language=language, sensitive=sensitive, first_bot_message=first)
        assert reply.text and VOICE.banned_words_in(reply.text) == []
    assert rendered == len(VOICE.languages) * len(VOICE.intents) * len(VOICE.emotions) * 3 * 2


def test_every_attachment_kind_is_thanked_for_in_every_language() -> None:
    assert set(KINDS) == set(VOICE.attachment_kinds)  # what the orchestrator names, exactly
    sentences: set[str] = set()
    for language, kind in itertools.product(VOICE.languages, VOICE.attachment_kinds):
        for handoff, to_a_person in [(False, False), (True, False), (True, True)]:
            for first in (True, False):
                reply = VOICE.attachment_reply(
                    language=language,
                    attachments=[kind],
                    first_bot_message=first,
                    handoff=handoff,
                    attachments_to_a_person=to_a_person,
                )
                assert reply.language == language
                assert "{" not in reply.text and "  " not in reply.text
                assert VOICE.banned_words_in(reply.text) == [], (language, kind)
        sentences.add(VOICE.attachments_received(language, [kind]))
    # Each kind is named in its own words, in each language.
    assert len(sentences) == len(VOICE.languages) * len(VOICE.attachment_kinds)


def test_the_reply_to_attachments_says_what_came_and_what_happens_next() -> None:
    photo = VOICE.attachment_reply(
        language="en",
        attachments=["image"],
        first_bot_message=False,
        handoff=True,
        attachments_to_a_person=True,
    )
    assert photo.text == (
        "Thank you for the photo. I can't open attachments myself, so I've asked a member "
        "of our team to take a look; they'll reply here."
    )
    several = VOICE.attachment_reply(
        language="de", attachments=["image", "image"], first_bot_message=False
    )
    assert several.text == "Vielen Dank für die Anhänge. Kann ich Ihnen bei etwas helfen?"
    called_for_another_reason = VOICE.attachment_reply(
        language="pt", attachments=["sticker"], first_bot_message=False, handoff=True
    )
    assert called_for_another_reason.text == (
        "Obrigado pela figurinha! "
        "Também pedi a uma pessoa da nossa equipe para analisar isto; ela vai responder aqui."
    )
    first = VOICE.attachment_reply(
        language="it", attachments=["location"], first_bot_message=True, bot_name="Robin"
    )
    assert first.text.startswith("Sorry, I can't write in your language yet")
    assert "Robin, an automated assistant" in first.text
    assert "Thank you for sharing the location." in first.text


def test_with_text_attachments_are_thanked_for_but_a_sticker_is_not() -> None:
    def reply(attachments: list[str], to_a_person: bool) -> str:
        return VOICE.compose_reply(
            language="es",
            intent="track_order",
            emotion=None,
            intensity=0.0,
            first_bot_message=False,
            attachments=attachments,
            handoff=to_a_person,
            attachments_to_a_person=to_a_person,
        ).text

    assert reply(["video"], True) == (
        "Gracias por el vídeo. Puedo consultar tu pedido: ¿cuál es el número de pedido? "
        "No puedo abrir archivos adjuntos por mi cuenta, así que he pedido a una persona de "
        "nuestro equipo que lo revise; te responderá aquí."
    )
    assert reply(["sticker"], False) == ("Puedo consultar tu pedido: ¿cuál es el número de pedido?")


def test_the_banned_word_check_finds_whole_words_in_any_language() -> None:
    assert VOICE.banned_words_in("Unfortunately, as I said, calm down.") == [
        "Unfortunately",
        "as I said",
        "calm down",
    ]
    assert VOICE.banned_words_in("Malheureusement, non.") == ["Malheureusement"]
    assert VOICE.banned_words_in("Das tut mir leid.") == []  # "leid" is not "leider"


def test_the_item_once_given_is_said_in_every_language_and_a_person_offered() -> None:
    assert ASKS_FOR_PRODUCT == {"place_order", "check_refund_policy"}
    for language, intent in itertools.product(LANGUAGES, sorted(ASKS_FOR_PRODUCT)):
        answer = VOICE.libraries[language].answers[intent]
        assert answer.known_product is not None, (language, intent)
        said = VOICE.answer(language, intent, product="blue hoodie in M")
        noted = answer.known_product.format(product="blue hoodie in M")
        assert said == f"{noted} {answer.product_offer}"
        assert "blue hoodie in M" in said and answer.ask not in said
        assert said.endswith("?"), (language, intent)  # the person offered (dialogue.py)
        # A person already being asked for is not offered again.
        assert VOICE.answer(language, intent, product="blue hoodie in M", offer_person=False) == (
            noted
        )
        assert not noted.endswith("?"), (language, intent)
        assert VOICE.answer(language, intent) == answer.ask  # not known: asked for
    # Where no sentence says it, the item changes nothing.
    assert VOICE.answer("en", "track_order", product="blue hoodie") == VOICE.answer(
        "en", "track_order"
    )


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("es", "¿Me envías el número de pedido para ver dónde está tu paquete?"),
        ("fr", "Pourriez-vous m'envoyer votre numéro de commande, pour que je voie où se trouve"),
        (
            "de",
            "Könnten Sie mir Ihre Bestellnummer schicken? Dann sehe ich nach, wo Ihr Paket ist.",
        ),
        ("pt", "Pode enviar o número do pedido para eu ver onde está o seu pacote?"),
    ],
)
def test_customers_get_replies_in_their_language(language: str, expected: str) -> None:
    reply = VOICE.compose_reply(
        language=language,
        intent="delivery_period",
        emotion="neutral",
        intensity=0.0,
        first_bot_message=False,
    )
    assert reply.language == language
    assert reply.text.startswith(expected)


def test_spanish_and_french_answers_with_feeling_and_order_reference() -> None:
    spanish = VOICE.compose_reply(
        language="es-ES",
        intent="get_refund",
        emotion="frustration",
        intensity=0.5,
        first_bot_message=False,
        order_reference="4471",
    )
    assert spanish.text == (
        "Siento las molestias; vamos a solucionarlo. "
        "Te ayudo con el reembolso del pedido 4471: ¿qué ha pasado?"
    )
    french = VOICE.compose_reply(
        language="fr", intent="cancel_order", emotion=None, intensity=0.0, first_bot_message=False
    )
    assert french.text == "Je peux vous aider à annuler : quel est le numéro de commande ?"


def test_an_unsupported_language_gets_english_with_an_apology() -> None:
    reply = VOICE.compose_reply(
        language="it", intent="track_order", emotion=None, intensity=0.0, first_bot_message=False
    )
    assert reply.language == "en"
    assert reply.text == (
        "Sorry, I can't write in your language yet, so I'll reply in English. "
        "I can check on your order: what is your order number?"
    )
    holding = VOICE.holding_reply(language="nl", sensitive=False, first_bot_message=False)
    assert holding.language == "en" and holding.text.startswith("Sorry, I can't write")


def test_an_unknown_language_gets_english_without_an_apology() -> None:
    reply = VOICE.compose_reply(
        language="", intent="unknown", emotion=None, intensity=0.0, first_bot_message=False
    )
    assert reply == VOICE.compose_reply(
        language="en", intent="unknown", emotion=None, intensity=0.0, first_bot_message=False
    )
    assert reply.text == "Could you tell me a little more so I can help?"


def test_the_disclosure_appears_only_on_the_first_bot_message() -> None:
    for language in LANGUAGES:
        first = VOICE.compose_reply(
            language=language,
            intent="unknown",
            emotion=None,
            intensity=0.0,
            first_bot_message=True,
            bot_name="Acme helper",
        )
        later = VOICE.compose_reply(
            language=language,
            intent="unknown",
            emotion=None,
            intensity=0.0,
            first_bot_message=False,
            bot_name="Acme helper",
        )
        assert "Acme helper" in first.text and "Acme helper" not in later.text
    english = VOICE.compose_reply(
        language="en", intent="unknown", emotion=None, intensity=0.0, first_bot_message=True
    )
    assert english.text.startswith("Hi, I'm Rapport assistant, an automated assistant.")
    named = VOICE.compose_reply(
        language="de",
        intent="unknown",
        emotion=None,
        intensity=0.0,
        first_bot_message=True,
        first_name="Jonas",
    )
    assert named.text.startswith("Hallo Jonas, ich bin Rapport assistant, ein automatischer")


def test_tone_follows_the_intensity_tier() -> None:
    assert VOICE.tier(0.39) == "low" and VOICE.tier(0.4) == "medium"
    assert VOICE.tier(0.69) == "medium" and VOICE.tier(0.7) == "high"
    for language in LANGUAGES:
        levels = [VOICE.acknowledgement(language, "anger", INTENSITY[t]) for t in TIERS]
        assert len(set(levels)) == 3, language
    assert VOICE.acknowledgement("en", "anger", 0.9) == (
        "I'm truly sorry. You have every reason to be upset, and I want to put this right."
    )
    assert VOICE.acknowledgement("en", "anger", 0.1) == "I'm sorry about this."
    assert VOICE.acknowledgement("en", "neutral", 0.9) == ""
    assert VOICE.acknowledgement("en", "surprise", 0.9) == ""


def test_the_earlier_contact_is_remembered_in_the_customers_language() -> None:
    contact = EarlierContact("sms", date(2026, 3, 5))
    texts = {
        language: VOICE.compose_reply(
            language=language,
            intent="track_order",
            emotion=None,
            intensity=0.0,
            first_bot_message=False,
            earlier_contact=contact,
        ).text
        for language in LANGUAGES
    }
    assert "I can see you also contacted us by text message on 5 March." in texts["en"]
    assert "Veo que también nos escribiste por SMS el 5 de marzo." in texts["es"]
    assert "Ich sehe, dass Sie uns am 5. März auch per SMS kontaktiert haben." in texts["de"]
    other = VOICE.earlier_contact("en", EarlierContact("fax", date(2026, 1, 2)))
    assert other == "I can see you also contacted us on fax on 2 January."


def test_sensitive_topics_get_the_caring_holding_reply() -> None:
    caring = VOICE.holding_reply(language="en", sensitive=True, first_bot_message=False)
    ordinary = VOICE.holding_reply(language="en", sensitive=False, first_bot_message=False)
    assert caring.text == (
        "I'm so sorry. I'm asking a member of our team to help you personally; "
        "they will reply here as soon as they can."
    )
    assert ordinary.text == (
        "I'm passing this to a member of our team, who will reply here shortly."
    )
    spanish = VOICE.holding_reply(language="es", sensitive=True, first_bot_message=False)
    assert spanish.text.startswith("Lo siento muchísimo.") and spanish.language == "es"


def test_the_handoff_note_follows_the_answer_in_the_same_language() -> None:
    reply = VOICE.compose_reply(
        language="pt",
        intent="complaint",
        emotion=None,
        intensity=0.0,
        first_bot_message=False,
        handoff=True,
    )
    assert reply.text.endswith(
        "Também pedi a uma pessoa da nossa equipe para analisar isto; ela vai responder aqui."
    )


def test_a_sign_off_is_added_when_the_persona_has_one() -> None:
    document = _document()
    document["persona"]["sign_off"] = {code: f"({code})" for code in document["languages"]}
    voice = Voice(document)
    reply = voice.compose_reply(
        language="fr", intent="unknown", emotion=None, intensity=0.0, first_bot_message=False
    )
    assert reply.text.endswith("(fr)")


@pytest.mark.parametrize(
    "break_it",
    [
        lambda d: d["languages"]["de"]["answers"].pop("get_invoice"),
        lambda d: d["languages"]["fr"]["acknowledgements"]["anger"].pop("high"),
        lambda d: d["languages"]["pt"].pop("handoff_note"),
        lambda d: d["languages"].pop("en"),
        lambda d: d["languages"]["es"]["answers"].update(unknown="Hola {order_reference}"),
        lambda d: d["languages"]["en"]["answers"].update(review="Unfortunately, no."),
        lambda d: d["languages"]["en"]["answers"].update(review="Get 10% discount today!"),
        lambda d: d["languages"]["en"]["holding"].update(ordinary="On it \U0001f44d"),
        lambda d: d["languages"]["de"]["months"].pop(),
        lambda d: d["intents"].append("book_flight"),
        lambda d: d["languages"]["fr"]["attachments"]["received"].pop("video"),
        lambda d: d["languages"]["es"]["attachments"]["received"].pop("several"),
        lambda d: d["languages"]["de"]["attachments"].pop("to_a_person"),
        lambda d: d["languages"]["en"]["attachments"].update(follow_up="Unfortunately, no."),
        lambda d: d["attachment_kinds"].append("hologram"),
        # The item, once given: in every language, saying it, and only it.
        lambda d: d["languages"]["pt"]["answers"].update(place_order="Que produto procura?"),
        lambda d: d["languages"]["fr"]["answers"]["place_order"].pop("known_product"),
        lambda d: d["languages"]["de"]["answers"]["place_order"].update(known_product="Danke."),
        lambda d: d["languages"]["es"]["answers"]["place_order"].update(
            known_product="Anotado: {order_reference}."
        ),
        lambda d: d["languages"]["en"]["answers"]["place_order"].update(known_item="{product}"),
        lambda d: d["languages"]["es"]["answers"]["place_order"].pop("product_offer"),
        lambda d: d["languages"]["en"]["answers"]["track_order"].update(product_offer="Help?"),
        # The answers to SMS keywords: each, naming the business and how to stop or restart.
        lambda d: d["languages"]["de"]["sms"].pop("help"),
        lambda d: d["languages"]["es"]["sms"].update(opted_out="Baja hecha. Responde START."),
        lambda d: d["languages"]["fr"]["sms"].update(opted_out="{business} : désabonné."),
        lambda d: d["languages"]["pt"]["sms"].update(help="{business}: responda aqui."),
        lambda d: d["languages"]["en"]["sms"].update(opted_in="{business} {bot_name}: STOP"),
    ],
)
def test_a_mistake_in_the_voice_fails_loudly_at_load(break_it: Any) -> None:
    document = _document()
    break_it(document)
    with pytest.raises(VoiceError):
        Voice(document)


class _SpeaksLanguage(StubEmotion):
    def __init__(self, code: str, supported: bool) -> None:
        super().__init__()
        self.code, self.supported = code, supported

    async def analyze(
        self, text: str, language_hint: str, previous_language: str = "", **options: Any
    ) -> emotion_pb.AnalyzeResponse:
        analysis = await super().analyze(text, language_hint, previous_language, **options)
        analysis.language.CopyFrom(
            emotion_pb.Language(code=self.code, confidence=0.95, supported=self.supported)
        )
        return analysis


async def _answer(emotion: StubEmotion, text: str) -> tuple[str, str]:
    context, publisher = InMemoryContext(), FakePublisher()
    handler = InboundHandler(
        emotion=emotion,
        context=context,
        publisher=publisher,
        policy=Policy.load(),
        bot_name="Rapport assistant",
        context_turns=20,
    )
    envelope = new_envelope(
        conversation_id="conversation-1",
        channel=envelope_pb2.CHANNEL_WEB,
        customer=envelope_pb2.CustomerRef(channel=envelope_pb2.CHANNEL_WEB, address="visitor-1"),
    )
    await handler(messages_pb2.MessageReceived(envelope=envelope, text=text))
    reply = publisher.published[0][1]
    assert isinstance(reply, messages_pb2.SendMessage)
    stored = context.turns[reply.envelope.event_id]
    return reply.text, stored.language


async def test_the_handler_answers_in_the_customers_language_and_stores_it() -> None:
    text, language = await _answer(_SpeaksLanguage("es", True), "¿dónde está mi order?")
    assert language == "es"
    assert text.startswith("Hola, soy Rapport assistant, un asistente automático.")
    assert text.endswith("Puedo consultar tu pedido: ¿cuál es el número de pedido?")


async def test_the_handler_answers_in_english_when_the_language_is_not_supported() -> None:
    text, language = await _answer(_SpeaksLanguage("xx", False), "my order")
    assert language == "en"
    assert not text.startswith("Sorry")


def test_the_disclosure_names_a_phrase_the_policy_recognises_as_asking_for_a_person() -> None:
    policy = Policy.load()
    for language in LANGUAGES:
        assert policy.asks_for_a_person(VOICE.disclosure(language)), language


@pytest.mark.parametrize("language", ["en", "es", "fr", "de", "pt"])
def test_the_answers_to_sms_keywords_name_the_business_and_the_way_out_or_back(
    language: str,
) -> None:
    texts = {key: VOICE.sms_text(language, key, "Acme Shoes") for key in SMS_TEXTS}
    assert {reply.language for reply in texts.values()} == {language}
    for key, reply in texts.items():
        assert "Acme Shoes" in reply.text and SMS_TEXTS[key] in reply.text, (key, reply)
    assert len(set(reply.text for reply in texts.values())) == 3


def test_an_sms_answer_in_a_language_the_voice_lacks_is_in_its_default() -> None:
    assert VOICE.sms_text("it", "help", "Acme") == VOICE.sms_text("en", "help", "Acme")
