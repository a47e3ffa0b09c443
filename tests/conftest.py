"""Shared fixtures. Personas (acme_admin, acme_student, ...) live in tests/personas.py."""
