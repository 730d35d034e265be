"""Everything that stands in for Slack or Chime, or plays them: the Chime emulator, the Slack
stand-in and its Block Kit validator, the console and the demo. Product code never imports
it; the stand-ins reach the bot through the same doors as the real services.

This `__init__` imports nothing, so that `python -m bot.emulator` (a process of its own in
tests and the benchmark) starts without loading the bot.
"""
