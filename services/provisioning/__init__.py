"""The provisioning saga: a paid order becomes a verified, live agent (bot making through a BotMaker:
the creator pool or Telegram's managed bots; verification, progress, renewal, compensation; the
activation itself is cloud's). Imports accounts, cloud, model_gateway, orders, payments (the
package catalogue), jobs, notifications, infra (logging, metrics), models.
"""
