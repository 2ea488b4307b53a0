"""mnist_core: data, models, training, evaluation, preprocessing and storage for the MNIST CNN
lab. Plain Python and Keras; no Streamlit anywhere, so it is usable and testable on its own."""

__version__ = "0.1.0"
