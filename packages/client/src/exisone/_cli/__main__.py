"""python -m exisone._cli"""

from . import main

main()
