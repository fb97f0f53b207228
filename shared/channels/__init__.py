"""Messaging channels: the adapter interface, and the plumbing every adapter shares."""
