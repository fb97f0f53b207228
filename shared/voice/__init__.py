"""The business's one brand voice: what the bot says, and what agents are offered to say."""
