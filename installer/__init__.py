"""Packaging: the PyInstaller spec, the frozen build's entry point and the Windows installer."""
