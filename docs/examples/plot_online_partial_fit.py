"""
===============================================
Online learning with ``partial_fit``
===============================================

:meth:`~skgmm.GaussianMixtureEM.partial_fit` updates a mixture from one batch at
a time by stepwise EM: running sufficient statistics are blended with each
batch's statistics, with a step size that decays as
``(t + learning_offset) ** -learning_decay``, and one M-step follows. Here a
stream of 200,000 rows is fed in batches of 2,000. The held-out log-likelihood
is followed batch by batch and compared with exact batch EM on all rows.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from skgmm import GaussianMixtureEM

n_components, n_features = 6, 4
centres = np.random.default_rng(1).normal(
    scale=2.0, size=(n_components, n_features)
)


def draw(n_samples, seed):
    rng = np.random.default_rng(seed)
    return centres[rng.integers(n_components, size=n_samples)] + rng.normal(
        size=(n_samples, n_features)
    )


X_stream, X_test = draw(200_000, 2), draw(5_000, 3)
batch = GaussianMixtureEM(n_components, random_state=0).fit(X_stream)
print(
    f"batch fit: {batch.n_iter_} passes, held-out log-likelihood {batch.score(X_test):.4f}"
)

# %%
# One pass over the stream, for two step-size schedules
# -----------------------------------------------------
batch_size = 2_000
curves = {}
for decay in (0.6, 0.9):
    online = GaussianMixtureEM(
        n_components, random_state=0, learning_decay=decay
    )
    seen, scores = [], []
    for step, start in enumerate(range(0, len(X_stream), batch_size), start=1):
        online.partial_fit(X_stream[start : start + batch_size])
        if step < 10 or step % 5 == 0:
            seen.append(start + batch_size)
            scores.append(online.score(X_test))
    curves[decay] = scores
    print(f"learning_decay={decay}: after one pass {scores[-1]:.4f}")

fig, ax = plt.subplots(figsize=(7, 4))
for decay, scores in curves.items():
    ax.plot(seen, scores, label=f"partial_fit, learning_decay={decay}")
ax.axhline(
    batch.score(X_test),
    color="k",
    linestyle="--",
    label="batch fit (all rows, to convergence)",
)
ax.set_xscale("log")
ax.set_xlabel("rows seen")
ax.set_ylabel("held-out mean log-likelihood")
ax.set_ylim(batch.score(X_test) - 0.3, batch.score(X_test) + 0.05)
ax.legend()
plt.tight_layout()

# %%
# A fraction of the pass gets close to the batch optimum. A smaller
# ``learning_decay`` moves faster early on, and a larger one averages more
# batches. To reach the exact optimum afterwards, continue with batch EM from
# where ``partial_fit`` stopped:
online.set_params(warm_start=True).fit(X_stream)
print(
    f"after warm-started fit: {online.score(X_test):.4f} in {online.n_iter_} passes"
)
plt.show()
