"""chime-bot: a Slack chat-ops bot for administering Amazon Chime users.

The modules here are the kernel and the entry points: `cli` and `app` (the composition root) at
the top; `models`, `errors`, `clock`, `logs`, `metrics`, `jobs`, `heap` and `aws` at the bottom,
imported by every package and importing none. The packages between them each hold one concern;
the README's "Architecture" section maps them and the directions imports may take.
"""
