"""Errors whose message tells the operator what to do. The CLI prints them to stderr without a
traceback and exits 1 (`main.py`); services raise them where a start-up check fails."""


class OperatorError(RuntimeError):
    """A failure the operator fixes (a setting, a migration, a key): the message says how."""


class DatabaseNotMigrated(OperatorError):
    def __init__(self, missing: list[str]) -> None:
        shown = ", ".join(missing[:3]) + (" …" if len(missing) > 3 else "")
        super().__init__(
            f"the database has no Meet Matt tables yet ({shown} missing): run `python main.py migrate` first"
        )
        self.missing = missing
