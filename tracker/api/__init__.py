"""The analytics JSON API (/api/v1/sites/…) and its authentication."""
from .views import bp
from . import privacy  # noqa: E402,F401  (its routes register on bp when imported)
from . import automations  # noqa: E402,F401  (its routes register on bp)

__all__ = ["bp"]
