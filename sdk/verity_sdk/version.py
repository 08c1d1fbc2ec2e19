"""The SDK's version, sent with every request so the API can refuse a client older
than it supports instead of misreading it."""

__version__ = "0.2.0"
USER_AGENT = f"verity-sdk/{__version__}"
