"""Translation: SentencePiece -> BiLSTM encoder -> attention LSTM decoder -> beam search."""
