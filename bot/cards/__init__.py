"""Every card and view the bot shows, as pure functions from its data to Block Kit, through the
one rendering path for untrusted text. Nothing here talks to Slack or Chime.
"""
