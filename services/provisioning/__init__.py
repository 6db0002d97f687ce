"""The provisioning saga: a paid order becomes a verified, live agent (bot making through a BotMaker:
the creator pool or Telegram's managed bots; activation, verification, progress, renewal,
compensation). Imports accounts, cloud, model_gateway, orders, jobs, notifications, models.
"""
