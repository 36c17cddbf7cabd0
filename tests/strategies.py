"""Hypothesis strategies for what users throw at exported signatures."""

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Any Unicode scalar (control characters, combining marks, emoji, RTL...), as UTF-8;
# surrogates cannot be encoded.
unicode_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=120).map(
    lambda text: text.encode("utf-8")
)
control_text = st.text(st.characters(max_codepoint=0x1F), max_size=40).map(str.encode)
invalid_utf8 = st.binary(max_size=60)  # mostly not valid UTF-8
long_text = st.builds(
    lambda word, count: (word + " ").encode("utf-8") * count,
    st.text(min_size=1, max_size=12),
    st.integers(200, 3000),
)

one_input = st.one_of(st.just(b""), unicode_text, control_text, invalid_utf8, long_text)
small_batches = st.lists(one_input, min_size=1, max_size=6)
large_batches = st.lists(
    st.one_of(st.just(b""), unicode_text, invalid_utf8), min_size=100, max_size=300
)
batches = st.one_of(small_batches, large_batches)

# Each example calls a SavedModel signature: a dozen fixed (derandomized) examples per test.
signature_examples = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
        HealthCheck.too_slow,
    ],
)
