"""Packaging for wpsgate and the joblauncher."""
import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "wpsgate" / "__init__.py").read_text()).group(1)


def requirements(name):
    return [line.split("#")[0].strip() for line in (HERE / name).read_text().splitlines()
            if line.split("#")[0].strip() and not line.startswith("-")]


setup(
    name="wpsgate",
    version=VERSION,
    description="OGC WPS 1.0.0 gateway that runs processes on a local pool or an HPC batch scheduler",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["wpsgate", "wpsgate.*", "joblauncher", "joblauncher.*"]),
    install_requires=requirements("requirements.txt"),
    extras_require={"processing": requirements("requirements-processing.txt"),
                    "postgresql": ["psycopg2-binary>=2.9"],
                    "pywps": ["pywps>=4.5,<4.9"],  # to serve PyWPS processes unchanged
                    "test": ["pytest>=7", "OWSLib>=0.29", "hypothesis>=6", "requests>=2.28", "psycopg2-binary>=2.9",
                             "jsonschema>=4.18"]},
    entry_points={"console_scripts": ["wpsgate = wpsgate.cli:main", "joblauncher = joblauncher.cli:main"]},
    classifiers=["Programming Language :: Python :: 3", "Topic :: Scientific/Engineering :: GIS"],
)
