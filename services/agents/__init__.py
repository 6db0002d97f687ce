"""A live agent as its owner handles it from /mybots: restart, health, persona, bot profile.
Imports accounts, jobs, notifications and models.
"""
