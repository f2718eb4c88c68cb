"""Operator tooling for imgpipe: the one-machine stack and the CLI.

Never shipped to Lambda; it imports chalicelib and app.py exactly as deployed.
"""
