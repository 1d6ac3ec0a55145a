"""`python app.py` serves the chat, widget and API with settings from the environment
(defaults: 127.0.0.1:7860, corpus/ and index/), building the index first if there is none."""

import sys

from qa_bot.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
