"""requirements-lambda.txt (what serverless-python-requirements installs into the Lambda bundle)
says exactly what pyproject.toml's core dependencies and `aws` extra say: no more (no scikit-learn,
no test tools), no less, and with the same version bounds."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_REQUIREMENTS = ROOT / "requirements-lambda.txt"


def bounds_by_package(lines: list[str]) -> dict[str, str]:
    requirements = [Requirement(line) for line in lines]
    return {canonicalize_name(req.name): str(req.specifier) for req in requirements}


def lambda_requirement_lines() -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in LAMBDA_REQUIREMENTS.read_text().splitlines())
    return [line for line in lines if line]


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_lambda_requirements_are_pyprojects_core_and_aws_dependencies() -> None:
    project = pyproject()
    expected = bounds_by_package(
        [*project["dependencies"], *project["optional-dependencies"]["aws"]]
    )
    assert bounds_by_package(lambda_requirement_lines()) == expected, (
        "requirements-lambda.txt has drifted from pyproject.toml: list the core dependencies and "
        "the `aws` extra there, with the same bounds"
    )


def test_the_lambda_requirements_leave_out_the_learn_csv_and_dev_extras() -> None:
    extras = pyproject()["optional-dependencies"]
    core_and_aws = bounds_by_package([*pyproject()["dependencies"], *extras["aws"]])
    only_elsewhere = {
        name
        for extra in ("learn", "csv", "dev")
        for name in bounds_by_package(extras[extra])
        if name not in core_and_aws
    }
    assert {"scikit-learn", "pyarrow"} <= only_elsewhere
    assert only_elsewhere.isdisjoint(bounds_by_package(lambda_requirement_lines()))
