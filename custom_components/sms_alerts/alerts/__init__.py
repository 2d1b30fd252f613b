"""Alerts from monitoring systems: their webhook bodies read, and their SMS written; no Home Assistant here."""
