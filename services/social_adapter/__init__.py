"""Social channels: Messenger, Instagram and WhatsApp (Meta Graph API) and Telegram bots."""
