"""TensorBoard side of training: scalars, images, embeddings, hyper-parameters, NaN guard."""
