"""Config object for Tortoise's own CLI (`tortoise -c tortoise_config.TORTOISE_ORM makemigrations`)."""

import os

from services.infra.db import tortoise_config

TORTOISE_ORM = tortoise_config(os.environ.get("DATABASE_URL", "sqlite://data/makemigrations.sqlite3"))
