"""The ``skgmm`` command line (also ``python -m skgmm``).

Commands::

    skgmm fit DATA [--n-components auto|K] [--covariance-type auto|mclust|TYPE]
                   [--columns C ...] [--sample-weight COLUMN] [--out MODEL] [--labels FILE] [--plot FILE]
    skgmm predict MODEL DATA [--proba]
    skgmm score MODEL DATA
    skgmm sample MODEL N
    skgmm demo                      (the default: fit the iris data set and draw it)

DATA is a CSV or other delimited text file (with or without a header row), a
NumPy ``.npy`` file, or a Parquet file (needs ``pip install 'skgmm[parquet]'``).
TYPE is scikit-learn's 'full', 'tied', 'diag', 'spherical' or one of mclust's
14 names ('VEV', ...); 'auto' chooses among scikit-learn's four by BIC,
'mclust' among mclust's 14.
Columns are chosen by name or by 0-based index. MODEL files are written with
joblib (a pickle): load only model files you trust.

The package parses (``_parser``, ``_main``), runs one module per command
(``_commands``), reads tables (``_tables``) and model files (``_models``),
fits or chooses by BIC (``_fitting``), and prints or writes what it found
(``_report``, ``_progress``, ``_outputs``, ``_figure``).
"""

from skgmm.cli._errors import CLIError
from skgmm.cli._figure import write_figure
from skgmm.cli._fitting import COVARIANCE_TYPES, FitResult, fit_table, singular_components
from skgmm.cli._main import _HANDLERS as _HANDLERS
from skgmm.cli._main import main
from skgmm.cli._parser import build_parser
from skgmm.cli._progress import Progress
from skgmm.cli._progress import _monitoring as _monitoring
from skgmm.cli._report import summary
from skgmm.cli._tables import Table, read_table

__all__ = [
    "COVARIANCE_TYPES",
    "CLIError",
    "FitResult",
    "Progress",
    "Table",
    "build_parser",
    "fit_table",
    "main",
    "read_table",
    "singular_components",
    "summary",
    "write_figure",
]
