"""The journey engine: definitions and their validation, the rule vocabulary, the funnel
and people query builders, person resolution and timelines.

Reads ``store``; never imports Flask (the API in ``tracker.api`` does that).
"""
