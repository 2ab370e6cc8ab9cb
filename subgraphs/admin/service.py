"""Transitional alias, to be deleted: bench/ still imports ``install_merchant`` from here; it
lives in ``subgraphs.admin.merchants.service``. Nothing else may import this module."""

from subgraphs.admin.merchants.service import install_merchant

__all__ = ["install_merchant"]
