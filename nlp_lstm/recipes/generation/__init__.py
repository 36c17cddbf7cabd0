"""Character-level text generation: characters -> embedding -> stacked LSTM -> next character."""
