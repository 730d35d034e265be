"""Slack, outbound: Web API calls (cards, notes, App Home), `response_url` replies, credentials,
user-group members, and the facts about Slack that every other package uses: ID patterns, Block
Kit limits, the message type and how `/chime` text is written.
"""
