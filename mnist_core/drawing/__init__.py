"""From a drawing to an answer: strokes, MNIST-style preprocessing, inference and the model
cache, what each layer saw (inside), and synthetic handwriting (styles, synthetic)."""
