# R side of benchmarks/bench_mclust.py: time R mclust's whole default BIC grid.
#
# Usage: Rscript benchmarks/mclust_grid.R OUT_DIR REPEATS [NAMES...]
# For each classic data set (R's datasets, mclust's bundled data), writes its
# numeric columns to OUT_DIR/<name>.csv, times Mclust(X, G = 1:9) with every
# default model (the 14 models; E and V for one column) REPEATS times inside R,
# and writes OUT_DIR/<name>.json: the times, mclust's choice, and its BIC
# table (NA where mclust's fit failed), from which bench_mclust.py derives the
# log-likelihood of every candidate.  mclust is used as a black box.

suppressPackageStartupMessages({
  library(mclust)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
out_dir <- args[1]
repeats <- as.integer(args[2])
data(diabetes, thyroid, banknote, wreath, chevron, GvHD, package = "mclust")
sets <- list(
  diabetes = diabetes[, -1], iris = iris[, -5], banknote = banknote[, -1],
  thyroid = thyroid[, -1], faithful = faithful, wreath = wreath,
  chevron = chevron[, -1], GvHD.control = GvHD.control, GvHD.pos = GvHD.pos
)
if (length(args) > 2) sets <- sets[args[-(1:2)]]
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)
for (name in names(sets)) {
  X <- as.matrix(sets[[name]])
  storage.mode(X) <- "double"
  write.table(X, file.path(out_dir, paste0(name, ".csv")), sep = ",", row.names = FALSE, col.names = FALSE)
  times <- numeric(repeats)
  for (r in seq_len(repeats)) {
    set.seed(0)  # the hierarchical subset of data sets over 2,000 rows
    times[r] <- system.time(fit <- Mclust(X, G = 1:9, verbose = FALSE))[["elapsed"]]
  }
  bic <- fit$BIC
  table <- lapply(colnames(bic), function(m) as.numeric(bic[, m]))
  names(table) <- colnames(bic)
  write_json(
    list(name = name, n = nrow(X), d = ncol(X), seconds = times, model = fit$modelName, G = fit$G,
         loglik = fit$loglik, bic = table, mclust_version = as.character(packageVersion("mclust")),
         r_version = R.version.string),
    file.path(out_dir, paste0(name, ".json")), digits = NA, auto_unbox = TRUE, na = "null"
  )
  cat(sprintf("%s %d x %d: %.3f s\n", name, nrow(X), ncol(X), min(times)))
}
