"""Admin routers. Every router here is guarded by `bot.filters.IsAdmin` (see handlers.get_routers)."""
