"""counter_app: billing-counter software for Chinese hospitals and pharmacies."""

__version__ = "0.1.0"
