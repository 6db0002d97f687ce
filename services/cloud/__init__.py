"""Customer servers: EC2 over aioboto3, SSH over asyncssh with pinned host keys, cloud-init,
the OpenClaw config, and instance care. Imports models, jobs, notifications, infra.
"""
