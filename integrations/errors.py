"""The root of every error an integration raises, so callers can tell ours from bugs."""


class IntegrationError(Exception):
    """An outside system or an input it was handed could not do what was asked."""
