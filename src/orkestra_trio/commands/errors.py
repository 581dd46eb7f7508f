"""The error of a user's mistake, which the command line prints without a traceback."""


class UserError(Exception):
    """A mistake of the user's (bad file, bad flag): printed without a traceback."""
