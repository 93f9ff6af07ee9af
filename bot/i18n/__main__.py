"""`python -m bot.i18n extract|compile|check`: see bot.i18n.catalogs."""

import sys

from bot.i18n.catalogs import main

sys.exit(main(sys.argv[1:]))
