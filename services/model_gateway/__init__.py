"""The model gateway's rules: per-instance keys, quotas and usage records and views.
Imports models, infra, jobs, notifications and payments (the Renew
notice); the HTTP side lives in webhooks/model_gateway.py.
"""
