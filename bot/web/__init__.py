"""The door: the HTTP server's checks on every request before Bolt sees it, the slash command's
fast ack, and Socket Mode. Imports handlers and everything below them; nothing imports it but
the composition root (`bot.app`).
"""
