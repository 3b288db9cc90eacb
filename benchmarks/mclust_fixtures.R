# Reference fits of mclust's covariance models, for tests/test_mclust_models.py.
#
# For each data set, number of components G and model, mclust::me() runs EM from
# a given responsibility matrix z (a hard partition cut from mclust's
# hierarchical clustering) with the default emControl(), and the result is
# written as JSON under tests/fixtures/mclust/.  The tests read only these
# files (CI has no R).  Data sets that Python cannot load are written as CSV
# under tests/fixtures/mclust/data/; iris is scikit-learn's load_iris().data,
# which equals R's iris[, 1:4].
#
# Usage, from the repository root (Debian: apt-get install r-cran-mclust):
#   Rscript benchmarks/mclust_fixtures.R
# mclust is used as a black box: only its documented functions are called.

suppressPackageStartupMessages({
  library(mclust)
  library(jsonlite)
})

out_dir <- file.path("tests", "fixtures", "mclust")
data_dir <- file.path(out_dir, "data")
dir.create(data_dir, recursive = TRUE, showWarnings = FALSE)

multivariate <- c("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE",
                  "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV")
univariate <- c("E", "V")
components <- c(2, 3, 4)
# Log-likelihood after each EM iteration is recorded when the fit takes at
# most this many (it costs one me() call per iteration).
max_path <- 150

data(diabetes, package = "mclust")
data(thyroid, package = "mclust")
datasets <- list(
  iris = list(x = as.matrix(iris[, 1:4]), csv = NULL),
  faithful = list(x = as.matrix(faithful), csv = "faithful.csv"),
  diabetes = list(x = as.matrix(diabetes[, -1]), csv = "diabetes.csv"),
  thyroid = list(x = as.matrix(thyroid[, -1]), csv = "thyroid.csv"),
  waiting = list(x = faithful$waiting, csv = NULL),  # column 2 of faithful.csv
  precip = list(x = as.numeric(precip), csv = "precip.csv")
)

# mclust's arrays put the component last: (d, d, G) and (d, G) become (G, d, d) and (G, d);
# a common shape (d) or orientation (d, d) is kept as it is.
by_component <- function(a) {
  if (is.null(a) || is.null(dim(a))) return(if (is.null(a)) NULL else as.numeric(a))
  if (length(dim(a)) == 3) return(unname(aperm(a, c(3, 1, 2))))
  unname(a)
}

me_fit <- function(x, model, z, itmax = .Machine$integer.max) {
  control <- emControl(itmax = c(itmax, .Machine$integer.max))
  suppressWarnings(me(x, modelName = model, z = z, control = control, warn = FALSE))
}

fixture <- function(name, x, model, G) {
  n <- NROW(x)
  d <- NCOL(x)
  z <- unmap(hclass(hc(x), G))
  fit <- me_fit(x, model, z)
  info <- unlist(attr(fit, "info"))
  inner <- unlist(attr(attr(fit, "info"), "inner"))
  failed <- is.na(fit$loglik)
  v <- fit$parameters$variance
  sigma <- if (d == 1) {
    array(rep_len(v$sigmasq, G), c(1, 1, G))
  } else v$sigma
  result <- list(
    dataset = name, model = model, n_components = G, n_samples = n, n_features = d,
    mclust_version = as.character(packageVersion("mclust")),
    r_version = R.version.string,
    control = emControl()[c("tol", "itmax", "eps")],
    z = unname(z),
    failed = failed,
    warning = attr(fit, "WARNING"),
    loglik = fit$loglik,
    n_iter = unname(info[1]),
    error = unname(info[2]),
    inner_n_iter = if (is.null(inner)) NULL else unname(inner[1]),
    inner_error = if (is.null(inner)) NULL else unname(inner[2]),
    df = nMclustParams(model, d, G),
    bic = if (failed) NULL else bic(model, fit$loglik, n, d, G)
  )
  if (!failed) {
    result$pro <- as.numeric(fit$parameters$pro)
    result$mean <- if (d == 1) as.numeric(fit$parameters$mean) else unname(t(fit$parameters$mean))
    result$sigma <- by_component(sigma)
    result$scale <- by_component(v$scale)
    # a (d, G) matrix of shapes, one column per component
    result$shape <- if (is.matrix(v$shape)) unname(t(v$shape)) else by_component(v$shape)
    result$orientation <- by_component(v$orientation)
    # me() returns the last M-step's parameters with the log-likelihood they give.
    result$estep_loglik <- estep(x, model, fit$parameters)$loglik
    if (info[1] <= max_path) {
      result$loglik_path <- vapply(seq_len(info[1]), function(t) me_fit(x, model, z, t)$loglik, 0)
    }
  }
  result[!vapply(result, is.null, TRUE)]
}

for (name in names(datasets)) {
  x <- datasets[[name]]$x
  if (!is.null(datasets[[name]]$csv)) {
    frame <- as.data.frame(x)
    if (is.null(dim(x))) names(frame) <- name
    write.csv(frame, file.path(data_dir, datasets[[name]]$csv), row.names = FALSE)
  }
  models <- if (is.null(dim(x))) univariate else multivariate
  for (G in components) for (model in models) {
    result <- fixture(name, x, model, G)
    path <- file.path(out_dir, sprintf("%s_%s_%d.json", name, model, G))
    writeLines(toJSON(result, digits = NA, auto_unbox = TRUE), path)
    cat(sprintf("%-9s %-3s G=%d  loglik %.6f  iterations %s\n",
                name, model, G, result$loglik, result$n_iter))
  }
}
