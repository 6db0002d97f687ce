"""Money: the package catalogue, Stripe Checkout and refunds, verified Stripe events applied once,
and payments held for an admin's review. Imports models, jobs, notifications and infra.
"""
