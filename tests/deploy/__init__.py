"""deploy/chime-bot.yaml held to the code: its IAM to the calls the bot makes, its table to
init-store's, its alarms to the log lines the bot writes."""
