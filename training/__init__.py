"""Training the reading model (qa_bot/models/reader) from the public sets in ../shared/data/train.

Needs torch and transformers (requirements-training.txt); serving never imports this package.
"""
