"""What an operator runs beside the bot: `chime-bot check`, `chime-bot audit` and the policy
report `check` prints.
"""
