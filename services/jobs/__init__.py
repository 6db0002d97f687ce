"""The durable job queue over the Job table and the worker that runs it.
Imports models and infra only; job handlers are registered by whoever composes the worker.
"""
