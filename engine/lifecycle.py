"""Expiry and renewal: authorizations past their end date become expired; renewals are offered before it."""
