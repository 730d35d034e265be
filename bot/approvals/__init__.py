"""The workflow: file a request, decide on it (groups, two-person rule, bulk invites), run its
Chime call exactly once, settle what a crash left, remind, expire, and keep every card, note
and App Home tab up to date.
"""
