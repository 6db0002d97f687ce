"""The model gateway's rules: per-instance keys, quotas and usage records and views.
Imports models, infra, jobs, notifications and payments (the package catalogue, for each
instance's quotas); the HTTP side lives in webhooks/model_gateway.py.
"""
