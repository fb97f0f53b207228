"""Instagram Direct: the Messenger Platform for Instagram.

Webhooks arrive as ``object: instagram`` with the same ``entry[].messaging[]`` events as
Messenger (sender ids are Instagram-scoped), and replies go through the same Send API
(``/me/messages``) with the Page access token of the Page linked to the Instagram
account. Only the limits differ: 1,000 characters per message.
"""

from __future__ import annotations

from services.social_adapter.config import SocialAdapterSettings
from services.social_adapter.messenger import PageMessagingAdapter
from shared.channels.adapter import Capabilities
from shared.channels.registry import ChannelSpec


class InstagramAdapter(PageMessagingAdapter):
    name = "instagram"
    object_type = "instagram"
    capabilities = Capabilities(max_text_chars=1000, max_quick_replies=13)


CHANNEL = ChannelSpec(
    name=InstagramAdapter.name,
    service="social_adapter",
    label="Instagram",
    routes=("/meta/instagram",),
    settings=SocialAdapterSettings,
    capabilities=lambda: InstagramAdapter.capabilities,
)
