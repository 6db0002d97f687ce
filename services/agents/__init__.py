"""A live agent as its owner handles it from /mybots: restart, health, persona, bot profile.
Imports cloud, accounts, jobs, notifications and models.
"""
