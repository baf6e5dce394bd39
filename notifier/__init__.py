"""notifier: alerts and digests about people persecuted for their faith."""

__version__ = "0.1.0"
