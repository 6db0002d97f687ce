"""Who makes the customers' bots: the creator-account pool, the @BotFather dialogue over Telethon,
Telethon error meanings, import from the environment, managed bots over the Bot API. Imports models, infra.
"""
