"""Reusable widgets for the dashboard."""

from meshtui.tui.widgets.virtual_table import Cell, Column, Row, RowKey, VirtualTable, cell_plain

__all__ = ["Cell", "Column", "Row", "RowKey", "VirtualTable", "cell_plain"]
