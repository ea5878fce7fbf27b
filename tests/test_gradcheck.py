"""The finite-difference checker itself: right answers pass, wrong ones are caught."""
import numpy as np
import pytest

from cnnbook.gradcheck import check_gradients, numerical_gradient, relative_error


def square_forward(x, w):
    return x * x * w, (x, w)


def square_backward(dout, cache):
    x, w = cache
    return 2 * x * w * dout, x * x * dout


def test_numerical_gradient_of_a_known_function():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    w = np.full((2, 2), 1.5)
    dout = np.ones((2, 2))
    np.testing.assert_allclose(numerical_gradient(square_forward, [x, w], dout, wrt=0), 3 * x, rtol=1e-8)
    np.testing.assert_allclose(numerical_gradient(square_forward, [x, w], dout, wrt=1), x * x, rtol=1e-8)
    np.testing.assert_array_equal(x, [[1.0, -2.0], [0.5, 3.0]])  # inputs left untouched


def test_check_gradients_passes_and_reports_errors():
    rng = np.random.default_rng(0)
    errors = check_gradients(square_forward, square_backward,
                             [rng.standard_normal((3, 2)), rng.standard_normal((3, 2))])
    assert set(errors) == {0, 1} and max(errors.values()) < 1e-6
    # float32 inputs are checked in float64
    check_gradients(square_forward, square_backward,
                    [np.ones(2, np.float32), np.ones(2, np.float32)], wrt=[0])


def test_check_gradients_catches_a_wrong_backward():
    wrong = lambda dout, cache: (cache[0] * cache[1] * dout, cache[0] ** 2 * dout)  # forgot the 2
    with pytest.raises(AssertionError, match="gradient of input 0 disagrees"):
        check_gradients(square_forward, wrong, [np.array([1.0, 2.0]), np.array([1.0, 1.0])])
    bad_shape = lambda dout, cache: (np.ones(3), np.ones(2))
    with pytest.raises(AssertionError, match=r"shape \(3,\), expected \(2,\)"):
        check_gradients(square_forward, bad_shape, [np.ones(2), np.ones(2)])


def test_scalar_and_zero_dim_inputs():
    fwd = lambda x, k: (np.asarray(k * x**3), x)
    bwd = lambda dout, x: 3 * x**2 * dout * 2.0
    check_gradients(fwd, bwd, [np.asarray(1.5), 2.0])  # a 0-d array and a non-array constant


def test_relative_error():
    assert relative_error(np.ones(3), np.ones(3)) == 0.0
    assert relative_error(np.array([1.0]), np.array([1.0 + 1e-9])) == pytest.approx(5e-10, rel=1e-3)
    assert relative_error(np.zeros(0), np.zeros(0)) == 0.0
    assert relative_error(np.zeros(2), np.zeros(2)) == 0.0
    with pytest.raises(ValueError, match="a and b must have the same shape"):
        relative_error(np.ones(2), np.ones(3))
