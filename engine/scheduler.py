"""What runs without anyone acting: timers, expiry, renewal offers, review rounds (``valtuus tick`` / worker)."""
