"""Admin actions that the bot's admin handlers and the CLI both call, each writing the same audit record:
enable and disable an account, set its priority (the bot's buttons shift it by one with
`shift_priority`, the CLI sets a number with `set_priority`; both save through one path), instance and
order actions. The account health check is the one action with two functions: the bot queues it for the
worker (`queue_account_check`, the admin gets an answer at once) while the CLI runs it here and now
(`check_accounts_now`, the operator waits for the outcome); both audit it as "account_check".
Imports models, accounts, jobs and payments; never bot, handlers or cli.
"""
