"""Graph-compatible decoding: greedy and temperature / top-k / top-p sampling."""

from nlp_lstm.decoding.sampling import sample_next

__all__ = ["sample_next"]
