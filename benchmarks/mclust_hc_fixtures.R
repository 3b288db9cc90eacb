# Reference trees of mclust's default hierarchical start, for tests/test_hierarchical.py.
#
# For each data set, hc(x, modelName = "VVV", use = "SVD") (mclust.options()'s
# hcModelName and hcUse, as Mclust() calls it) gives the merge pairs, and
# hclass() the partitions into 1..9 groups; both are written as JSON under
# tests/fixtures/mclust_hc/ with the data (so the tests need no R) and R's
# "SVD" coordinates of the data (the hc object's "data" attribute).
#
# Usage, from the repository root (Debian: apt-get install r-cran-mclust):
#   Rscript benchmarks/mclust_hc_fixtures.R
# mclust is used as a black box: only its documented functions are called.

suppressPackageStartupMessages({
  library(mclust)
  library(jsonlite)
})

out_dir <- file.path("tests", "fixtures", "mclust_hc")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)

data(diabetes, package = "mclust")
data(thyroid, package = "mclust")
data(banknote, package = "mclust")
data(wreath, package = "mclust")
set.seed(0)
datasets <- list(
  iris = as.matrix(iris[, 1:4]),
  faithful = as.matrix(faithful),
  diabetes = as.matrix(diabetes[, -1]),
  thyroid = as.matrix(thyroid[, -1]),
  banknote = as.matrix(banknote[, -1]),
  wreath = as.matrix(wreath),
  gaussian = matrix(rnorm(60 * 5), 60, 5)
)

for (name in names(datasets)) {
  x <- unname(datasets[[name]])
  elapsed <- system.time(tree <- hc(x, modelName = "VVV", use = "SVD"))[["elapsed"]]
  result <- list(
    dataset = name, n_samples = nrow(x), n_features = ncol(x),
    mclust_version = as.character(packageVersion("mclust")),
    r_version = R.version.string,
    hc_seconds = elapsed,
    x = x,
    svd_data = unname(attr(tree, "data")),
    merges = t(unclass(tree)[1:2, ]) - 1L,      # 0-based, one row per merge
    partitions = unname(hclass(tree, 1:9)) - 1L  # column k - 1 holds k groups
  )
  write_json(result, file.path(out_dir, paste0(name, ".json")), digits = NA, matrix = "rowmajor", auto_unbox = TRUE)
}

# Time of hc() on 2000 rows of 4 features (mclust.options("subset")).
x <- matrix(rnorm(2000 * 4), 2000, 4)
cat("hc(VVV, SVD) on 2000 x 4:", system.time(hc(x, modelName = "VVV", use = "SVD"))[["elapsed"]], "s\n")
