"""The provisioning saga: a paid order becomes a verified, live agent (bot making, activation,
verification, progress). Imports accounts, cloud, model_gateway, jobs, notifications, models.
"""
