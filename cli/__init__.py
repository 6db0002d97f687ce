"""The command line: every `python main.py ...` command and the composition root they share.
The top layer: it may import everything; nothing but main.py imports it.
"""
