"""Customer routers, one feature each."""
