"""Everything that talks to the outside world or decides business rules. Knows nothing of aiogram."""
