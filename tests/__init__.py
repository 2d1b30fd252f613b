"""Tests of the SMS Alerts integration."""
