"""Plumbing every process shares: the database, logging with secret redaction, metrics,
readiness, and errors that tell the operator what to do. Imports only models and config
(and the worker's type, for readiness).
"""
