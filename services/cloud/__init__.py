"""Customer servers: EC2 over aioboto3 (fleet, network setup), SSH over asyncssh with pinned host keys,
cloud-init, the OpenClaw config and its activation, and instance care: health, expiry, warm pool,
instance actions and the INSTANCE_* job handlers. Imports models, jobs, notifications, model_gateway,
infra.
"""
