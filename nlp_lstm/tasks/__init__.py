"""Runners: one module per task, tying data, model, training and export together."""
