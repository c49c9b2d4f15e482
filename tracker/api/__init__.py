"""The analytics JSON API (/api/v1/sites/…) and its authentication."""
from .views import bp

__all__ = ["bp"]
