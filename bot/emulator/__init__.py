"""`python -m bot.emulator`, kept where operators and scripts know it.

The emulator itself lives in `bot.offline.emulator`, with everything else that stands in for
Slack or Chime; this package is only the old entry point.
"""
