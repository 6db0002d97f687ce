"""Admin actions that the bot's admin handlers and the CLI both call, one function per action, each
writing the same audit record. Imports models, jobs, payments and infra; never bot, handlers or cli.
"""
