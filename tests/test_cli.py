"""Tests of the ``skgmm`` command line, run in-process through ``main(argv)``."""

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning

import skgmm
from skgmm import GaussianMixtureEM, GaussianMixtureIC, cli
from skgmm.cli import CLIError, Progress, main, read_table
from skgmm.cli._fitting import MCLUST_COVARIANCE_TYPES


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(n_samples=120, centers=[[0, 0], [8, 0], [0, 8]], cluster_std=1.0, random_state=0)
    return X


def _write_csv(path, X, names=None, delimiter=","):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        if names is not None:
            writer.writerow(names)
        writer.writerows([[repr(float(v)) for v in row] for row in X])
    return path


def _read_csv(text):
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


def _run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# -- reading ------------------------------------------------------------------
def test_read_csv_with_header_columns_and_weights(tmp_path, blobs):
    weights = np.arange(len(blobs)) % 3 + 1.0
    data = np.column_stack([blobs, weights])
    path = _write_csv(tmp_path / "d.csv", data, ["a", "b", "w"])
    table = read_table(path, sample_weight="w")
    assert table.names == ["a", "b"]
    assert_allclose(table.X, blobs)
    assert_allclose(table.sample_weight, weights)
    table = read_table(path, columns=["b", "0"])  # by name and by index
    assert table.names == ["b", "a"] and table.sample_weight is None
    assert_allclose(table.X, blobs[:, ::-1])
    assert read_table(path, columns=["a,w"]).names == ["a", "w"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", " "])
def test_read_csv_without_header_any_delimiter(tmp_path, blobs, delimiter):
    path = _write_csv(tmp_path / "d.txt", blobs, delimiter=delimiter)
    table = read_table(path)
    assert table.names == ["x0", "x1"]
    assert_allclose(table.X, blobs)


def test_read_npy_and_parquet(tmp_path, blobs):
    np.save(tmp_path / "d.npy", blobs)
    table = read_table(tmp_path / "d.npy", columns=["1"])
    assert_allclose(table.X, blobs[:, [1]])
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"a": blobs[:, 0], "b": blobs[:, 1], "kind": ["x"] * len(blobs)})
    frame.to_parquet(tmp_path / "d.parquet")
    table = read_table(tmp_path / "d.parquet", columns=["a", "b"])
    assert_allclose(table.X, blobs)
    with pytest.raises(CLIError, match="column 'kind' is not numeric"):
        read_table(tmp_path / "d.parquet")


def test_read_errors_are_clear(tmp_path):
    path = tmp_path / "species.csv"
    path.write_text("x,y,species\n1,2,setosa\n3,4,virginica\n")
    with pytest.raises(CLIError, match=r"column 'species' is not numeric \(row 1: 'setosa'\)"):
        read_table(path)
    assert read_table(path, columns=["x", "y"]).X.shape == (2, 2)
    with pytest.raises(CLIError, match="no column 'z'; columns are x, y, species"):
        read_table(path, columns=["z"])
    with pytest.raises(CLIError, match="no such file"):
        read_table(tmp_path / "absent.csv")
    (tmp_path / "ragged.csv").write_text("1,2\n3\n")
    with pytest.raises(CLIError, match="row 2 has 1 fields"):
        read_table(tmp_path / "ragged.csv")
    (tmp_path / "nan.csv").write_text("a,b\n1,2\nNA,4\n5,6\n")
    with pytest.raises(CLIError, match="1 missing value.*column 'a' at row 2"):
        read_table(tmp_path / "nan.csv")
    table = read_table(tmp_path / "nan.csv", allow_nan=True)
    assert np.isnan(table.X[1, 0]) and table.X[2, 1] == 6


# -- fit ----------------------------------------------------------------------
def test_fit_fixed_model_writes_model_labels_and_figure(tmp_path, capsys, blobs):
    pytest.importorskip("matplotlib")
    data = _write_csv(tmp_path / "d.csv", blobs, ["u", "v"])
    model_path, labels_path, figure = tmp_path / "m.joblib", tmp_path / "labels.csv", tmp_path / "fig.png"
    status, out, err = _run(
        capsys,
        "fit",
        str(data),
        "-k",
        "3",
        "-c",
        "diag",
        "--out",
        str(model_path),
        "--labels",
        str(labels_path),
        "--plot",
        str(figure),
    )
    assert status == 0, err
    model = joblib.load(model_path)
    reference = GaussianMixtureEM(3, covariance_type="diag", random_state=0).fit(blobs)
    assert_allclose(model.means_, reference.means_, rtol=1e-10)
    for text in ("3 components, 'diag' covariance", "log-likelihood", "BIC", "iterations", "weight"):
        assert text in out
    assert f"{reference.score(blobs):.4f}" in out
    header, rows = _read_csv(labels_path.read_text())
    assert header == ["label", "proba_0", "proba_1", "proba_2"]
    labels = np.array([int(r[0]) for r in rows])
    proba = np.array([[float(v) for v in r[1:]] for r in rows])
    assert_array_equal(labels, model.predict(blobs))
    assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert figure.stat().st_size > 10_000


def test_fit_auto_chooses_by_bic(tmp_path, capsys, blobs):
    data = _write_csv(tmp_path / "d.csv", blobs)
    model_path = tmp_path / "m.joblib"
    status, out, err = _run(
        capsys, "fit", str(data), "--max-components", "4", "-c", "auto", "-o", str(model_path)
    )
    assert status == 0, err
    model = joblib.load(model_path)
    assert model.n_components == 3
    assert "chosen by BIC among 16 candidates" in out
    assert "Top 3 models based on the BIC criterion" in out and "Clustering table:" in out
    # The chosen model has the lowest BIC among plain fits of the same grid.
    bics = {
        (k, cov): GaussianMixtureEM(k, covariance_type=cov, random_state=0).fit(blobs).bic(blobs)
        for k in range(1, 5)
        for cov in ("full", "tied", "diag", "spherical")
    }
    assert model.bic(blobs) <= min(bics.values()) + 1e-6 * abs(min(bics.values()))


def test_fit_mclust_chooses_among_mclusts_models(tmp_path, capsys, blobs):
    data = _write_csv(tmp_path / "d.csv", blobs)
    model_path = tmp_path / "m.joblib"
    status, out, err = _run(
        capsys, "fit", str(data), "--max-components", "3", "-c", "mclust", "-o", str(model_path)
    )
    assert status == 0, err
    assert "chosen by BIC among 42 candidates" in out
    model = joblib.load(model_path)
    # unset --tol and --max-iter leave the selector's mclust convergence rule
    assert (model.convergence, model.tol, model.max_iter) == ("relative", 1e-5, 1000)
    selector = GaussianMixtureIC(3, covariance_type=MCLUST_COVARIANCE_TYPES, random_state=0).fit(blobs)
    assert model.covariance_type == selector.covariance_type_
    assert_allclose(model.means_, selector.means_, rtol=1e-10)


def test_fit_verbose_prints_table_and_covariances(tmp_path, capsys, blobs):
    data = _write_csv(tmp_path / "d.csv", blobs)
    status, out, _ = _run(capsys, "fit", str(data), "--max-components", "2", "-c", "spherical", "--verbose")
    assert status == 0
    assert "BIC (lower is better; singular fits left blank):" in out and "covariances_" in out


def test_fit_sample_weight_column(tmp_path, capsys, blobs):
    weights = np.random.RandomState(0).randint(1, 4, size=len(blobs)).astype(float)
    data = _write_csv(tmp_path / "d.csv", np.column_stack([blobs, weights]), ["a", "b", "w"])
    model_path = tmp_path / "m.joblib"
    status, out, err = _run(
        capsys, "fit", str(data), "-k", "3", "-c", "full", "--sample-weight", "w", "-o", str(model_path)
    )
    assert status == 0, err
    assert "weighted by a column" in out
    reference = GaussianMixtureEM(3, random_state=0).fit(blobs, sample_weight=weights)
    assert_allclose(joblib.load(model_path).means_, reference.means_, rtol=1e-10)


def test_fit_quiet_prints_only_results(tmp_path, capsys, blobs):
    data = _write_csv(tmp_path / "d.csv", blobs)
    # no file to write: the result is the model chosen, one line
    status, out, err = _run(capsys, "fit", str(data), "-k", "2", "-c", "full", "--quiet")
    assert status == 0 and out == "model: 2 components, 'full' covariance\n" and err == ""
    status, out, err = _run(capsys, "fit", str(data), "-c", "full", "--quiet")
    assert status == 0 and out.startswith("model: ") and "chosen by BIC" in out and out.count("\n") == 1
    # the model written: nothing printed
    status, out, err = _run(
        capsys, "fit", str(data), "-k", "2", "--quiet", "--out", str(tmp_path / "m.joblib")
    )
    assert status == 0 and out == "" and err == ""


def test_fit_with_missing_values(tmp_path, capsys, blobs):
    X = blobs.copy()
    X[::10, 1] = np.nan
    data = _write_csv(tmp_path / "d.csv", X)
    status, out, err = _run(capsys, "fit", str(data), "-k", "3", "-c", "full")
    assert status == 0, err
    assert "12 missing values" in out


# -- predict, score, sample ---------------------------------------------------
@pytest.fixture(scope="module")
def saved_model(tmp_path_factory, blobs):
    folder = tmp_path_factory.mktemp("model")
    data = _write_csv(folder / "train.csv", np.column_stack([blobs, np.ones(len(blobs))]), ["a", "b", "w"])
    assert (
        main(
            [
                "fit",
                str(data),
                "-k",
                "3",
                "-c",
                "full",
                "--columns",
                "a",
                "b",
                "-o",
                str(folder / "m.joblib"),
                "--quiet",
            ]
        )
        == 0
    )
    return folder / "m.joblib", data


def test_predict_uses_the_fitted_columns(capsys, saved_model, blobs):
    model_path, data = saved_model
    model = joblib.load(model_path)
    status, out, err = _run(capsys, "predict", str(model_path), str(data))
    assert status == 0, err
    header, rows = _read_csv(out)
    assert header == ["label"]
    assert_array_equal([int(r[0]) for r in rows], model.predict(blobs))
    status, out, _ = _run(capsys, "predict", str(model_path), str(data), "--proba")
    header, rows = _read_csv(out)
    assert header == ["label", "proba_0", "proba_1", "proba_2"]
    assert_allclose([[float(v) for v in r[1:]] for r in rows], model.predict_proba(blobs), atol=1e-6)


def test_predict_wrong_number_of_features(tmp_path, capsys, saved_model, blobs):
    model_path, _ = saved_model
    np.save(tmp_path / "three.npy", np.column_stack([blobs, blobs[:, :1]]))
    status, out, err = _run(capsys, "predict", str(model_path), str(tmp_path / "three.npy"))
    assert status == 1 and out == ""
    assert "fitted on 2 features" in err and "--columns" in err
    status, _, _ = _run(capsys, "predict", str(model_path), str(tmp_path / "three.npy"), "--columns", "0,1")
    assert status == 0


def test_score(capsys, saved_model, blobs):
    model_path, data = saved_model
    model = joblib.load(model_path)
    status, out, _ = _run(capsys, "score", str(model_path), str(data), "--quiet")
    assert status == 0
    assert_allclose(float(out), model.score(blobs), rtol=1e-7)
    status, out, _ = _run(capsys, "score", str(model_path), str(data))
    assert "mean log-likelihood per sample" in out and "BIC" in out
    status, out, _ = _run(capsys, "score", str(model_path), str(data), "--per-sample")
    header, rows = _read_csv(out)
    assert_allclose([float(r[0]) for r in rows], model.score_samples(blobs), rtol=1e-7)


def test_sample(tmp_path, capsys, saved_model):
    model_path, _ = saved_model
    status, out, _ = _run(capsys, "sample", str(model_path), "50", "--random-state", "1")
    assert status == 0
    header, rows = _read_csv(out)
    assert header == ["a", "b", "component"] and len(rows) == 50
    status, again, _ = _run(capsys, "sample", str(model_path), "50", "--random-state", "1")
    assert again == out
    assert main(["sample", str(model_path), "5", "-o", str(tmp_path / "s.csv")]) == 0
    assert len((tmp_path / "s.csv").read_text().splitlines()) == 6


# -- errors and global options -----------------------------------------------
def test_errors_are_one_line_without_traceback(tmp_path, capsys):
    status, out, err = _run(capsys, "fit", str(tmp_path / "absent.csv"))
    assert status == 1 and out == ""
    assert err.strip().splitlines() == [f"skgmm: error: {tmp_path / 'absent.csv'}: no such file"]
    (tmp_path / "text.csv").write_text("a,b\n1,x\n2,y\n")
    status, _, err = _run(capsys, "fit", str(tmp_path / "text.csv"))
    assert status == 1 and "column 'b' is not numeric" in err and "Traceback" not in err
    status, _, err = _run(capsys, "predict", str(tmp_path / "text.csv"), str(tmp_path / "text.csv"))
    assert status == 1 and "not a model file" in err
    with pytest.raises(CLIError):
        main(["fit", str(tmp_path / "absent.csv"), "--debug"])


def test_estimator_errors_are_one_line(tmp_path, capsys, blobs):
    data = _write_csv(tmp_path / "d.csv", blobs[:3])
    status, _, err = _run(capsys, "fit", str(data), "-k", "5", "-c", "full")
    assert status == 1
    assert len(err.strip().splitlines()) == 1 and "n_components" in err


def test_usage_errors_exit_2(capsys):
    assert main(["fit", "x.csv", "--n-components", "zero"]) == 2
    assert main(["fit", "x.csv", "--covariance-type", "banana"]) == 2
    assert main(["sample", "m.joblib", "-3"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"skgmm {skgmm.__version__}"


def test_no_arguments_runs_the_demo(monkeypatch):
    seen = []
    monkeypatch.setitem(cli._HANDLERS, "demo", lambda args: seen.append(args) or 0)
    assert main([]) == 0 and main(["--quiet"]) == 0
    assert seen[0].command == "demo" and seen[0].plot == "skgmm-demo.png" and not seen[0].quiet
    assert seen[1].quiet


def test_progress_line_reports_iterations(blobs):
    stream = io.StringIO()
    progress = Progress(stream, delay=0.0)
    progress.set_candidate("K=3 full")
    monitor = progress.monitor()
    monitor.on_init_begin(0)
    monitor.on_iteration_end(1, -3.25, 1.0)
    text = stream.getvalue()
    assert text.startswith("\r") and "K=3 full" in text and "iteration 1" in text and "-3.25000" in text
    assert "ms/iteration" in text
    progress.clear()
    assert stream.getvalue().endswith("\r")


def test_monitoring_patch_is_restored(blobs):
    import skgmm._estimator as estimator_module

    original = estimator_module.monitor_for
    stream = io.StringIO()
    with cli._monitoring(Progress(stream, delay=0.0)), pytest.warns(ConvergenceWarning):
        GaussianMixtureEM(2, random_state=0, tol=0, max_iter=3).fit(blobs)
    assert estimator_module.monitor_for is original
    assert "iteration" in stream.getvalue()


def test_demo_subprocess(tmp_path):
    pytest.importorskip("matplotlib")
    env = {**os.environ, "PYTHONPATH": str(Path(skgmm.__file__).parents[1])}
    completed = subprocess.run(
        [sys.executable, "-m", "skgmm", "demo", "--max-components", "3", "-c", "full", "--plot", "demo.png"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    assert "adjusted Rand index" in completed.stdout
    assert (tmp_path / "demo.png").stat().st_size > 10_000


def test_plot_features(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    X = np.random.RandomState(0).normal(size=(60, 3))
    data = _write_csv(tmp_path / "d.csv", X, ["a", "b", "c"])
    figure = tmp_path / "f.svg"
    status, _, err = _run(
        capsys, "fit", str(data), "-k", "2", "-c", "diag", "--plot", str(figure), "--plot-features", "c,0"
    )
    assert status == 0, err
    assert figure.stat().st_size > 1000
    status, _, err = _run(
        capsys, "fit", str(data), "-k", "2", "--plot", str(figure), "--plot-features", "c", "z"
    )
    assert status == 1 and "no feature 'z'; features are a, b, c" in err


def _with_duplicates():
    # 20 identical rows: a component can sit on them with zero spread, so its
    # likelihood (and BIC) is unbounded, held up by reg_covar alone.
    rng = np.random.RandomState(0)
    return np.vstack([rng.normal(size=(150, 2)), np.tile([6.0, 6.0], (20, 1))])


@pytest.mark.filterwarnings("ignore:Components .* collapsed")
def test_singular_components():
    X = _with_duplicates()
    gm = GaussianMixtureEM(2, random_state=0).fit(X)
    on_duplicates = int(np.argmin(np.linalg.norm(gm.means_ - [6.0, 6.0], axis=1)))
    assert cli.singular_components(gm) == [on_duplicates]
    assert cli.singular_components(GaussianMixtureEM(1, random_state=0).fit(X[:150])) == []
    for covariance_type in ("diag", "spherical"):
        gm = GaussianMixtureEM(2, covariance_type=covariance_type, random_state=0).fit(X)
        assert len(cli.singular_components(gm)) == 1


def test_auto_passes_over_singular_fits(tmp_path, capsys):
    data = _write_csv(tmp_path / "d.csv", _with_duplicates())
    model_path = tmp_path / "m.joblib"
    status, out, err = _run(
        capsys, "fit", str(data), "--max-components", "3", "-c", "diag", "-o", str(model_path)
    )
    assert status == 0, err
    assert "Passed over, with a lower BIC but singular" in out
    assert cli.singular_components(joblib.load(model_path)) == []


def test_cli_uses_the_selectors_singular_definition(tmp_path, capsys, monkeypatch, blobs):
    """One definition (skgmm/_singular.py): flagging a candidate there makes the CLI pass over it."""
    import skgmm._selection
    from skgmm._singular import singular_components, singular_reason

    assert cli.singular_components is singular_components
    data = _write_csv(tmp_path / "d.csv", blobs)
    status, out, _ = _run(capsys, "fit", str(data), "--max-components", "4", "-c", "spherical")
    assert status == 0 and "model: 3 components" in out and "Passed over" not in out

    def flag_three(model, n_samples=None):
        return (
            "singular: flagged by the test" if model.n_components == 3 else singular_reason(model, n_samples)
        )

    monkeypatch.setattr(skgmm._candidates, "singular_reason", flag_three)
    status, out, _ = _run(capsys, "fit", str(data), "--max-components", "4", "-c", "spherical")
    assert status == 0 and "model: 3 components" not in out
    assert "Passed over, with a lower BIC but singular" in out and "spherical,3: BIC" in out
    assert "singular: flagged by the test" in out


def test_fit_accepts_mclust_covariance_types(tmp_path, capsys, blobs):
    data = _write_csv(tmp_path / "d.csv", blobs)
    status, out, err = _run(capsys, "fit", str(data), "--max-components", "3", "-c", "VEV")
    assert status == 0, err
    assert "'VEV' covariance" in out and "Top 3 models based on the BIC criterion" in out
    from skgmm.covariance import COVARIANCE_MODELS

    assert cli.COVARIANCE_TYPES == tuple(COVARIANCE_MODELS)


def test_fit_chooses_the_model_with_missing_values(tmp_path, capsys, blobs):
    """The default fit (K and covariance type chosen by BIC) uses the observed values."""
    X = blobs.copy()
    X[::10, 1] = np.nan
    data = _write_csv(tmp_path / "d.csv", X)
    status, out, err = _run(capsys, "fit", str(data), "--max-components", "4")
    assert status == 0, err
    assert "12 missing values" in out
    assert "model: 3 components" in out


def test_tiny_data_choose_a_sound_model_and_show_only_its_warnings(tmp_path, capsys):
    """On 8 rows every K >= 3 fit is singular and ranks first by BIC: all are passed over."""
    X = [[1, 2], [1.1, 2.1], [5, 6], [5.2, 6.1], [0.9, 2.2], [5.1, 5.9], [1.2, 1.9], [4.9, 6.3]]
    data = _write_csv(tmp_path / "tiny.csv", X, ["a", "b"])
    status, out, err = _run(capsys, "fit", str(data))
    assert status == 0, err
    assert "model: 2 components" in out
    assert "Passed over, with a lower BIC but singular" in out
    # the warnings of the singular fits passed over are not the chosen model's
    assert "DegenerateDataWarning" not in err


def test_output_into_a_closed_pipe_stops_quietly(tmp_path, blobs):
    """``skgmm predict ... | head``: the reader leaves early; no error line, status 0, as Unix tools do."""
    data = _write_csv(tmp_path / "d.csv", np.tile(blobs, (200, 1)), ["u", "v"])
    model_path = tmp_path / "m.joblib"
    assert main(["fit", str(data), "-k", "2", "-c", "full", "--out", str(model_path), "--quiet"]) == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "skgmm", "predict", str(model_path), str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout.readline().strip() == b"label"
    process.stdout.close()  # the reader goes away after one line
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 0
    assert stderr == b""


def test_unknown_option_is_reported_with_its_commands_usage(tmp_path, capsys, blobs):
    data = _write_csv(tmp_path / "d.csv", blobs)
    status, out, err = _run(capsys, "fit", str(data), "--components", "2")
    assert status == 2 and out == ""
    assert (
        err.startswith("usage: skgmm fit ")
        and "skgmm fit: error: unrecognized arguments: --components 2" in err
    )
    status, out, err = _run(capsys, "--bogus")
    assert status == 2 and err.startswith("usage: skgmm [-h]") and "unrecognized arguments: --bogus" in err
