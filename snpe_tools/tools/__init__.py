"""Command-line tools (one module per SNPE tool name; console scripts and bin/ launchers call ``entry``)."""
