"""Local stand-ins of outside services, reached over real sockets through the same endpoint settings
a user would set (e.g. STRIPE_API_BASE)."""
