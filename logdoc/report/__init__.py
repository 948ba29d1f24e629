"""Reporters turn Results into output. Machine formats never pass through rich."""
