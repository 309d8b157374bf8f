import keras
import numpy as np
import tensorflow as tf

from tfs2s.training.predict import predict


def test_predictions_of_a_multi_step_model_are_whole_and_traced_once_per_shape():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(loss="mse", steps_per_execution=4)
    x = np.arange(30, dtype="float32").reshape(10, 3)
    model.fit(x, x[:, :1], batch_size=2, epochs=1, verbose=0)
    train_function = model.train_function
    expected = model(x).numpy()
    for n in (10, 7, 3, 9):  # 5, 4, 2 and 5 batches: other chunk lengths every time
        got = predict(model, tf.data.Dataset.from_tensor_slices(x[:n]).batch(2))
        np.testing.assert_allclose(got, expected[:n], rtol=1e-6)
    # one batch per call, traced once for every batch size (not per list length or shape)
    assert model._tfs2s_one_step_predict_function.experimental_get_tracing_count() == 1
    assert model.steps_per_execution == 4 and model.train_function is train_function
