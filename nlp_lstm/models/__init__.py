"""One module per task: the Keras model and how it serves itself."""
