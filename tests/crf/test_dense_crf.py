"""Dense CRF mean field (Krähenbühl and Koltun 2011) against the brute-force kernel and theory."""

from __future__ import annotations

import pytest
import torch
from synthetic import noisy_probs, region_image, region_labels

from pixelwise.crf import DenseCRF, dense_crf, free_energy, mean_field, unary_from_probs


def _accuracy(probs: torch.Tensor, labels: torch.Tensor) -> float:
    return float((probs.argmax(0) == labels).double().mean())


def _crf(image: torch.Tensor, method: str, sxy: float = 80.0, srgb: float = 13.0) -> DenseCRF:
    crf = DenseCRF(image, method=method).add_gaussian(sxy=3.0, compat=3.0)
    return crf.add_bilateral(sxy=sxy, srgb=srgb, compat=10.0)


@pytest.mark.parametrize("image_noise", [6.0, 20.0])
@pytest.mark.parametrize(("sxy", "srgb"), [(80.0, 13.0), (5.0, 20.0)])
def test_lattice_mean_field_matches_brute_force_labels(
    image_noise: float, sxy: float, srgb: float
) -> None:
    labels = region_labels()
    image = region_image(labels, noise=image_noise)
    unary = unary_from_probs(noisy_probs(labels, signal=0.7))
    fast = _crf(image, "lattice", sxy, srgb).inference(unary, iterations=10)
    exact = _crf(image, "brute_force", sxy, srgb).inference(unary, iterations=10)
    agreement = float((fast.argmax(0) == exact.argmax(0)).double().mean())
    assert agreement >= 0.98 if image_noise > 10 else agreement >= 0.99
    assert float((fast - exact).abs().mean()) < 0.02


def test_free_energy_never_increases_with_brute_force_kernels() -> None:
    # Potts compatibility with a PSD kernel makes the parallel update a CCCP step (ICML 2013).
    labels = region_labels()
    crf = _crf(region_image(labels, noise=20.0), "brute_force", 5.0, 20.0)
    unary = unary_from_probs(noisy_probs(labels, signal=0.7)).reshape(4, -1).T.contiguous()
    energies: list[float] = []
    mean_field(
        unary,
        crf.potentials,
        10,
        callback=lambda step, q: energies.append(free_energy(q, unary, crf.potentials)),
    )
    assert len(energies) == 11
    for before, after in zip(energies, energies[1:]):
        assert after <= before + 1e-9 * abs(before)
    assert energies[-1] < energies[0] - 100.0  # and it really moves


def test_crf_raises_accuracy_on_noisy_scores() -> None:
    labels = region_labels()
    probs = noisy_probs(labels, signal=0.7)
    refined = dense_crf(probs, region_image(labels))
    assert _accuracy(probs, labels) < 0.5
    assert _accuracy(refined, labels) > 0.95


def test_potts_weight_equals_paper_penalty_matrix() -> None:
    # pydensecrf's Potts(w) rewards equal labels; the paper's w [l != l'] penalises different
    # ones. They differ by a constant per pixel, so the marginals are the same.
    labels = region_labels(12, 16)
    image = region_image(labels)
    unary = unary_from_probs(noisy_probs(labels))
    reward = DenseCRF(image).add_gaussian(3.0, 3.0).add_bilateral(80.0, 13.0, 10.0)
    penalty = 1.0 - torch.eye(4, dtype=torch.float64)
    matrix = (
        DenseCRF(image).add_gaussian(3.0, 3.0 * penalty).add_bilateral(80.0, 13.0, 10.0 * penalty)
    )
    assert torch.allclose(reward.inference(unary, 5), matrix.inference(unary, 5), atol=1e-6)


def test_zero_iterations_is_the_unary_softmax() -> None:
    labels = region_labels(12, 16)
    probs = noisy_probs(labels)
    out = dense_crf(probs, region_image(labels), iterations=0)
    assert torch.allclose(out, probs, atol=1e-12)


def test_dense_crf_layouts_dtypes_and_batches_agree() -> None:
    labels = region_labels(12, 16)
    image = region_image(labels)  # (H, W, 3) uint8
    probs = noisy_probs(labels)  # (C, H, W) float64
    reference = dense_crf(probs, image)
    assert reference.shape == probs.shape and reference.dtype == torch.float64
    assert torch.allclose(reference.sum(0), torch.ones(12, 16, dtype=torch.float64))
    channels_first_float = image.permute(2, 0, 1).double() / 255.0
    assert torch.allclose(dense_crf(probs, channels_first_float), reference, atol=1e-9)
    single = dense_crf(probs.float(), image)
    assert single.dtype == torch.float32
    assert torch.allclose(single.double(), reference, atol=1e-3)
    batch = dense_crf(torch.stack([probs, probs.flip(2)]), torch.stack([image, image.flip(1)]))
    assert torch.allclose(batch[0], reference, atol=1e-9)
    assert torch.allclose(batch[1], dense_crf(probs.flip(2), image.flip(1)), atol=1e-9)


def test_dense_crf_rejects_bad_inputs() -> None:
    labels = region_labels(12, 16)
    image = region_image(labels)
    probs = noisy_probs(labels)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        dense_crf(probs, image.double())  # float image on the 0-255 scale
    with pytest.raises(ValueError, match="scores"):
        dense_crf(probs, image[:10])
    with pytest.raises(ValueError, match=r"\(3, H, W\) or \(H, W, 3\)"):
        dense_crf(probs, image[..., :2])
    with pytest.raises(ValueError, match="positive"):
        dense_crf(probs, image, srgb=0.0)
    with pytest.raises(ValueError, match="symmetric"):
        DenseCRF(image).add_gaussian(3.0, torch.triu(torch.ones(4, 4)))
    with pytest.raises(ValueError, match="iterations"):
        dense_crf(probs, image, iterations=-1)


def test_matches_pydensecrf_when_installed() -> None:
    # pydensecrf2 (``pip install pydensecrf2``) is the maintained build of Krähenbühl's C++ code.
    import numpy as np
    import pydensecrf.densecrf as densecrf  # pydensecrf2, in the [dev] extra

    labels = region_labels(36, 48)
    image = region_image(labels, noise=20.0)
    probs = noisy_probs(labels, signal=0.7).float()
    unary = unary_from_probs(probs)
    reference = densecrf.DenseCRF2D(48, 36, 4)
    reference.setUnaryEnergy(np.ascontiguousarray(unary.reshape(4, -1).numpy()))
    reference.addPairwiseGaussian(sxy=3, compat=3)
    reference.addPairwiseBilateral(sxy=80, srgb=13, rgbim=np.ascontiguousarray(image), compat=10)
    expected = torch.from_numpy(np.array(reference.inference(10))).reshape(4, 36, 48)
    ours = dense_crf(probs, image)
    assert float((ours - expected).abs().max()) < 1e-4
    assert torch.equal(ours.argmax(0), expected.argmax(0))


@pytest.mark.parametrize("weight", [3.0, 200.0])
def test_mean_field_matches_a_plain_softmax_loop(weight: float) -> None:
    # 200 makes the message bound exceed the safe range, so the overflow guard must kick in.
    labels = region_labels(12, 16)
    crf = DenseCRF(region_image(labels), method="brute_force").add_bilateral(80.0, 13.0, weight)
    unary = unary_from_probs(noisy_probs(labels)).reshape(4, -1).T.contiguous()
    kernel = crf.potentials[0][0]
    q = torch.softmax(-unary, dim=1)
    for _ in range(4):
        q = torch.softmax(-unary + weight * kernel.filter(q), dim=1)
    assert torch.allclose(mean_field(unary, crf.potentials, 4), q, atol=1e-10)
