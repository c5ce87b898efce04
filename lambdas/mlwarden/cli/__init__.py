"""The ``mlwarden`` command line."""


class NothingChecked(Exception):
    """Nothing can be judged here (no credentials, the endpoint unreachable or failing): the message is the one
    line that says why and what to do (exit status 3)."""
