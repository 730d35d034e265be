"""Who may do what: the channel allowlist and approver list (fail closed, with reasons), the
members of approver groups, and each account's effective policy under CHIME_POLICY_FILE. The one
place that answers "may this person approve this request?" for every surface.
"""
