"""``python -m exisone_server`` = ``exisone-server``."""

from .cli import main

main()
