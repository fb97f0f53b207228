"""A customer's MMS media, opened for an agent: Twilio's ``MediaUrl`` with the account's key.

The reference is the ``MediaUrl`` of the webhook. Only media of this account on the
Twilio API (``RAPPORT_SMS_API_BASE_URL``) is opened, and only there are the account SID and
auth token sent (HTTP Basic, as Twilio asks when "Enforce HTTP Auth on Media URLs" is
on). Twilio answers with a redirect to a short-lived URL on its media CDN, followed only
to the origins in ``RAPPORT_SMS_MEDIA_ORIGINS``, without the credentials.
"""

from __future__ import annotations

import re
from contextlib import AbstractAsyncContextManager

import aiohttp
from yarl import URL

from services.sms_adapter.config import SmsSettings
from shared.channels.media import Access, MediaError, MediaFetcher, MediaProblem, OpenedMedia
from shared.channels.origins import AllowedOrigins

_MEDIA_PATH = re.compile(r"^/Messages/(?:MM|SM)[0-9a-fA-F]{32}/Media/ME[0-9a-fA-F]{32}$")


class TwilioMedia:
    """Opens ``MediaUrl`` references (a :data:`~shared.channels.media.MediaOpener`)."""

    def __init__(self, settings: SmsSettings, fetcher: MediaFetcher) -> None:
        api = AllowedOrigins.of([str(URL(settings.api_base_url).origin())])
        login = aiohttp.encode_basic_auth(
            settings.account_sid, settings.auth_token.get_secret_value()
        )
        self._account = f"{settings.api_base_url}/2010-04-01/Accounts/{settings.account_sid}"
        self._fetcher = fetcher
        self._access = Access(
            origins=api + AllowedOrigins.of(settings.media_origins),
            headers={"Authorization": login},
            credentialed=api,
        )

    def __call__(self, reference: str) -> AbstractAsyncContextManager[OpenedMedia]:
        path = reference.removeprefix(self._account)
        if path == reference or not _MEDIA_PATH.match(path):
            raise MediaError(
                MediaProblem.UNKNOWN_REFERENCE, "not a media URL of this Twilio account"
            )
        return self._fetcher.open(reference, self._access)
