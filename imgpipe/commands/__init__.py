"""The longer commands of `python -m imgpipe`, one module each; imgpipe/__main__.py holds the
click group, the short commands, and adds these to it."""
