"""The analytics JSON API (/api/v1/sites/…) and its authentication."""
