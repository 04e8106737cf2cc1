"""Tests for the Textual dashboard."""
