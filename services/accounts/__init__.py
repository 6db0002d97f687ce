"""Creator accounts: the pool that picks one per order (with its status book and cross-process lock),
the @BotFather dialogue over Telethon and its reply parser, Telethon error meanings, import from the
environment, the Bot API client. Imports models, infra, jobs and notifications (alerts).
"""
