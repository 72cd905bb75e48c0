"""Allow ``python -m certkeeper``."""

from certkeeper.cli.main import main

main()
