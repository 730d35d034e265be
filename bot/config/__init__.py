"""Configuration read once at start: the settings from the environment and the per-account
policy file. Every problem is reported together, as one message and exit code 2.
"""
