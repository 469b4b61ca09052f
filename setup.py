"""Packaging for mtl-keras.

The source folders `zoo/` and `benchmarks/` install as `mtl_keras.zoo` and
`mtl_keras.benchmarks`, so nothing named plain `zoo` or `benchmarks` lands in site-packages.
"""

from setuptools import find_packages, setup

library = find_packages(include=["mtl_keras", "mtl_keras.*"])
zoo = ["mtl_keras.zoo" + p[len("zoo") :] for p in find_packages(include=["zoo", "zoo.*"])]
benchmarks = ["mtl_keras.benchmarks" + p[len("benchmarks") :] for p in find_packages(include=["benchmarks", "benchmarks.*"])]

setup(
    name="mtl-keras",
    version="0.1.0",
    description="Multi-task learning for Keras 3 / TensorFlow: sharing layers, sampling trainer, task weighting, model zoo.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=library + zoo + benchmarks,
    # The console command's entry point: parses arguments before the library (and TensorFlow) loads.
    py_modules=["mtl_keras_cli"],
    package_dir={"mtl_keras.zoo": "zoo", "mtl_keras.benchmarks": "benchmarks"},
    install_requires=[
        "tensorflow-cpu==2.21.0",
        "keras==3.15.1",
        "tensorflow-datasets==4.9.10",
        "keras-tuner==1.4.8",
        "tensorboard==2.21.0",
        "numpy>=1.26,<3",
        "scikit-learn==1.9.1",
        "matplotlib==3.11.2",
        "scipy==1.17.1",
    ],
    extras_require={
        # jax: the JAX-backend tests (tests/jax_backend) run in CI too
        "test": ["pytest==9.2.0", "pytest-xdist==3.8.0", "ruff==0.17.6", "hypothesis==6.170.15", "jax[cpu]==0.10.2"],
        # mutation testing (tools/mutation.py), not part of CI
        "mutation": ["mutmut==3.8.1"],
        # the JAX backend (KERAS_BACKEND=jax); checked with keras 3.15.1
        "jax": ["jax[cpu]==0.10.2"],
    },
    entry_points={"console_scripts": ["mtl-keras=mtl_keras_cli:main"]},
)
