"""Admin actions that the bot's admin handlers and the CLI both call, one function per action, each
writing the same audit record. Imports models, accounts, jobs and payments; never bot, handlers or cli.
"""
