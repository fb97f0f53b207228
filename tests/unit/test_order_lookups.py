"""Order status from the shop: told only to a customer who proved the order is theirs,
asked for what proves it otherwise, and an honest answer with a person when the shop
cannot say. The planning is pure; the handler only asks the shop (here an in-memory
one; tests/integration/test_shop_actions.py drives the real clients against fakes)."""

from __future__ import annotations

import json

from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb

from services.orchestrator.dialogue import slots_given
from services.orchestrator.handlers import InboundHandler
from services.orchestrator.orders import (
    FOUND,
    NOT_VERIFIED,
    ShopAnswer,
    order_answer,
    order_outcome,
    proven_identity,
)
from services.orchestrator.policy import Policy
from services.orchestrator.shop.order import STATUSES, Order
from services.orchestrator.shop.port import ShopUnavailable
from shared.kafka.topics import HANDOFF
from shared.voice.replies import ORDER_STATUSES
from tests.fakes.ports import FakePublisher, InMemoryContext, StubEmotion, inbound_message

SHIPPED = Order(
    reference="#1001",
    status="shipped",
    email="jane@example.com",
    phone="+33 6 12 34 56 78",
    shipping_postal_code="75011",
    country="FR",
    carrier="Colissimo",
    tracking_number="6A123456789",
    tracking_url="https://www.laposte.fr/outils/suivre-vos-envois?code=6A123456789",
)


class MemoryShop:
    """A shop holding a few orders, or down."""

    def __init__(self, *orders: Order, down: bool = False) -> None:
        self.orders = {o.reference.lstrip("#"): o for o in orders}
        self.down = down
        self.asked: list[str] = []

    async def find_order(self, reference: str) -> Order | None:
        self.asked.append(reference)
        if self.down:
            raise ShopUnavailable("the shop answered 503 three times")
        return self.orders.get(reference.lstrip("#"))


def _handler(
    context: InMemoryContext, publisher: FakePublisher, shop: MemoryShop
) -> InboundHandler:
    return InboundHandler(
        emotion=StubEmotion(),
        context=context,
        publisher=publisher,
        policy=Policy.load(),
        bot_name="Robin",
        context_turns=20,
        shop=shop,
    )


def _record(context: InMemoryContext) -> context_pb.DecisionRecord:
    bot = [t for t in context.turns.values() if t.role == context_pb.ROLE_BOT]
    return bot[-1].decision


async def test_a_customer_texting_from_the_orders_phone_hears_its_status_and_tracking() -> None:
    context, publisher, shop = InMemoryContext(), FakePublisher(), MemoryShop(SHIPPED)
    handler = _handler(context, publisher, shop)
    sms = envelope_pb2.CHANNEL_SMS
    await handler(inbound_message("Where is my order?", "+33612345678", sms))
    await handler(inbound_message("1001", "+33612345678", sms))
    reply = publisher.published[-1][1]
    assert "Order 1001 is on its way. It's with Colissimo, tracking number 6A123456789." in (
        reply.text
    )
    assert shop.asked == ["1001"]
    record = _record(context)
    assert record.template == "order/found/track_order"
    assert [r.code for r in record.reasons][:2] == ["order_reference_given", "order_status_told"]
    assert json.loads(record.facts_json)["order_status"] == "shipped"


async def test_a_web_visitor_is_asked_for_the_orders_email_and_postal_code_first() -> None:
    context, publisher, shop = InMemoryContext(), FakePublisher(), MemoryShop(SHIPPED)
    handler = _handler(context, publisher, shop)
    await handler(inbound_message("Where is my order 1001?"))
    asked = publisher.published[-1][1].text
    assert "email address and the postal code on order 1001" in asked
    assert "on its way" not in asked and "Colissimo" not in asked
    assert _record(context).template == "order/unverified/track_order"

    await handler(inbound_message("jane@example.com 75012"))  # one digit wrong
    refused = publisher.published[-1][1].text
    assert "couldn't confirm those details" in refused and "on its way" not in refused
    assert (
        "email" not in refused.split("couldn't confirm")[1].split(".")[0]
    )  # which is wrong: untold

    await handler(inbound_message("sorry, it's jane@example.com and 75011"))
    told = publisher.published[-1][1].text
    assert "Order 1001 is on its way." in told
    assert all(topic != HANDOFF for topic, _ in publisher.published)


async def test_details_given_before_they_are_asked_are_not_asked_for() -> None:
    context, publisher, shop = InMemoryContext(), FakePublisher(), MemoryShop(SHIPPED)
    await _handler(context, publisher, shop)(
        inbound_message("where's order #1001? email jane@example.com, postcode 75011")
    )
    assert "Order 1001 is on its way." in publisher.published[-1][1].text


async def test_an_unknown_order_is_said_plainly_and_its_number_asked_for_again() -> None:
    context, publisher, shop = InMemoryContext(), FakePublisher(), MemoryShop(SHIPPED)
    handler = _handler(context, publisher, shop)
    sms = envelope_pb2.CHANNEL_SMS
    await handler(inbound_message("where is my order", "+33612345678", sms))
    await handler(inbound_message("4242", "+33612345678", sms))
    assert "couldn't find an order 4242" in publisher.published[-1][1].text
    await handler(inbound_message("sorry, 1001", "+33612345678", sms))
    assert "Order 1001 is on its way." in publisher.published[-1][1].text


async def test_a_shop_that_cannot_answer_gets_an_honest_reply_and_a_person() -> None:
    context, publisher, shop = InMemoryContext(), FakePublisher(), MemoryShop(down=True)
    handler = _handler(context, publisher, shop)
    await handler(
        inbound_message("Where is my order 1001?", "+33612345678", envelope_pb2.CHANNEL_SMS)
    )
    (_, reply), (topic, handoff) = publisher.published
    assert "can't reach our order system right now" in reply.text
    assert "look into" not in reply.text.lower()  # no promise the bot will not keep
    assert topic == HANDOFF and handoff.reasons[-1].code == "shop_unavailable"
    # The agent reads what the customer wants, what the bot tried and what was given.
    assert "Wants: track order." in handoff.summary
    assert "Order 1001 looked up: the shop could not be reached." in handoff.summary
    assert "Given: order 1001." in handoff.summary


def test_the_voice_says_every_status_the_shop_can_report() -> None:
    assert set(STATUSES) == set(ORDER_STATUSES)


def test_a_proven_phone_or_the_typed_email_and_postal_code_open_the_order() -> None:
    answer = ShopAnswer("1001", SHIPPED)
    sms = proven_identity(envelope_pb2.CHANNEL_SMS, "+33612345678", (), {})
    assert order_outcome(answer, sms).outcome == FOUND
    linked = proven_identity(
        envelope_pb2.CHANNEL_WEB,
        "visitor",
        [(envelope_pb2.CHANNEL_WHATSAPP, "+33612345678", True)],
        {},
    )
    assert order_outcome(answer, linked).outcome == FOUND
    unproven = proven_identity(
        envelope_pb2.CHANNEL_WEB,
        "visitor",
        [(envelope_pb2.CHANNEL_WHATSAPP, "+33612345678", False)],
        {},
    )
    assert order_outcome(answer, unproven).order is None
    typed = proven_identity(
        envelope_pb2.CHANNEL_WEB,
        "visitor",
        (),
        slots_given("JANE@example.com, 75011", "verification"),
    )
    assert order_outcome(answer, typed).outcome == FOUND
    assert order_outcome(answer, typed, attempts_left=False).outcome == NOT_VERIFIED


def test_the_answer_is_in_the_customers_language() -> None:
    outcome = order_outcome(
        ShopAnswer("1001", SHIPPED),
        proven_identity(envelope_pb2.CHANNEL_SMS, "+33612345678", (), {}),
    )
    assert order_answer("fr", outcome, "1001").startswith("La commande 1001 est en route.")
    assert "Colissimo" in order_answer("de", outcome, "1001")


async def test_an_order_number_given_long_ago_is_remembered_by_the_context_service() -> None:
    context, publisher, shop = InMemoryContext(), FakePublisher(), MemoryShop(SHIPPED)
    handler = InboundHandler(
        emotion=StubEmotion(),
        context=context,
        publisher=publisher,
        policy=Policy.load(),
        bot_name="Robin",
        context_turns=2,  # the recent turns alone forget it at once
        shop=shop,
    )
    sms = envelope_pb2.CHANNEL_SMS
    await handler(inbound_message("where is my order", "+33612345678", sms))
    await handler(inbound_message("1001", "+33612345678", sms))
    for chatter in ("hello", "hmm", "ok"):
        await handler(inbound_message(chatter, "+33612345678", sms))
    await handler(inbound_message("where's my order now?", "+33612345678", sms))
    assert "Order 1001 is on its way." in publisher.published[-1][1].text
    [customer] = set(context.slots)
    assert context.slots[customer]["order_reference"].value == "1001"


async def test_an_order_the_shop_does_not_have_is_not_remembered() -> None:
    context, publisher, shop = InMemoryContext(), FakePublisher(), MemoryShop(SHIPPED)
    handler = _handler(context, publisher, shop)
    sms = envelope_pb2.CHANNEL_SMS
    await handler(inbound_message("where is my order 4242?", "+33612345678", sms))
    assert all("order_reference" not in slots for slots in context.slots.values())
