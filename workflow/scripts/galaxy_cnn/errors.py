"""Errors caused by the user's input (catalogs, images, model files, settings).

A job that stops on one of these prints its message alone, naming the file, row or key at fault;
any other exception keeps its traceback, because it is a bug to report.
"""


class InputError(ValueError):
    """Bad input: the message says what is wrong and where."""


class CatalogError(InputError):
    """A catalog that cannot be used as it is (missing columns, bad values, no rows)."""


class TooManyExcluded(InputError):
    """More galaxies excluded than `cutouts.max_missing_fraction` allows."""


class Incomplete(InputError):
    """Work a plain rerun can finish (downloads that failed while the server was down): the
    message says what the rerun will do."""
