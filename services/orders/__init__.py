"""Orders from the bot's dialogue: validating what a customer types, creating, renewing and
attaching orders. Imports models and payments (the catalogue).
"""
