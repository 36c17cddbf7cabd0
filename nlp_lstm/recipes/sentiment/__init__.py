"""Sentiment analysis: SentencePiece -> embedding -> stacked BiLSTM -> softmax."""
