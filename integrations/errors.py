"""The root of every error an integration raises, so callers can tell ours from bugs."""


class IntegrationError(Exception):
    """An outside system or an input it was handed could not do what was asked.

    Permanent: asking again gives the same answer (not audio, empty, refused address).
    """


class TransientIntegrationError(IntegrationError):
    """An outside system failed for now (connection lost, timeout, HTTP 5xx): retry later."""
