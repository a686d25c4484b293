"""Shared kit for the course's tests: probes, assertions with feedback, and the pytest plugin.

Public and hidden tests import their helpers from here and nowhere else, so a
probe is written once and means the same thing in every assignment.
"""
