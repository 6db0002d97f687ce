"""The model gateway's rules: per-instance keys, quotas and usage records and views.
Imports models and infra; the HTTP side lives in webhooks/model_gateway.py.
"""
