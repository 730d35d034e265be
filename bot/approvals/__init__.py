"""The workflow: file a request, decide on it (groups, two-person rule, bulk invites), run its
Chime call exactly once, settle what a crash left, remind, expire, and keep every card, note
and App Home tab up to date.

`Approvals` (bot/approvals/engine.py) is the entry point the handlers and the sweep use; App
Home (`Home`), reminders (`Reminders`) and fair use (`FairUse`) are wired beside it by bot/app.py.
Modules inside this package import each other by module path, never through this file.
"""

from bot.approvals.engine import Approvals, Surface
from bot.approvals.fair_use import FairUse
from bot.approvals.home import Home
from bot.approvals.home_surface import home_owner
from bot.approvals.reminders import Reminders

__all__ = ["Approvals", "FairUse", "Home", "Reminders", "Surface", "home_owner"]
