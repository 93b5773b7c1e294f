# forecast.R INPUT [OUTDIR] - the R peers of the forecast benchmark (bench/forecast.sh runs it).
#
# Reads a long file in the format of `databrain forecast eval` (series_id,...,frequency,horizon,...,
# value,split), fits forecast::ets and forecast::thetaf to the train rows of every series, forecasts its
# horizon with 80% and 95% intervals and scores the forecasts against the test rows with the same
# formulas as databrain (src/forecast/forecast.c): sMAPE and MASE averaged over series (MASE scaled by
# the in-sample mean absolute lag-m difference, lag 1 for series not longer than m), 95% coverage pooled
# over test points. Only fitting and forecasting are timed (elapsed time of the loop over series).
# Prints one line per method:
#   method=ets series=N smape=S mase=M coverage95=C seconds=T failures=F
# A series on which R fails (an error) gets R's naive forecast and counts in `failures`.
# With OUTDIR, writes OUTDIR/<method>.csv with the forecasts (series_id,h,mean,lo80,hi80,lo95,hi95).
args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 1) stop("usage: Rscript forecast.R INPUT [OUTDIR]")
suppressMessages(library(forecast))

d <- read.csv(args[1], stringsAsFactors = FALSE, na.strings = c("NA", ""),
              colClasses = c(series_id = "character"))
ids <- unique(d$series_id)
groups <- split(d, factor(d$series_id, levels = ids))
series <- lapply(groups, function(s) list(
  id = s$series_id[1], train = s$value[s$split == "train"], test = s$value[s$split == "test"],
  m = s$frequency[1], h = s$horizon[1]))

mase_scale <- function(x, m) {
  lag <- if (length(x) > m) m else 1
  a <- abs(diff(x, lag = lag))
  a <- a[!is.na(a)]
  if (length(a) == 0 || sum(a) == 0) NA else mean(a)
}

run <- function(name, fit) {
  fcs <- vector("list", length(series))
  failures <- 0
  secs <- system.time(for (i in seq_along(series)) {
    s <- series[[i]]
    y <- ts(s$train, frequency = s$m)
    fcs[[i]] <- tryCatch(suppressWarnings(fit(y, s$h)), error = function(e) {
      failures <<- failures + 1
      naive(y, h = s$h, level = c(80, 95))
    })
  })[["elapsed"]]
  smape <- c(); mase <- c(); inside <- 0; points <- 0
  rows <- list()
  for (i in seq_along(series)) {
    s <- series[[i]]; f <- fcs[[i]]
    mean <- as.numeric(f$mean); lo <- f$lower; hi <- f$upper
    k <- min(length(s$test), s$h)
    if (!is.null(args[2]) && !is.na(args[2]))
      rows[[i]] <- data.frame(series_id = s$id, h = seq_len(s$h), mean = mean, lo80 = as.numeric(lo[, 1]),
                              hi80 = as.numeric(hi[, 1]), lo95 = as.numeric(lo[, 2]), hi95 = as.numeric(hi[, 2]))
    if (k == 0) next
    a <- s$test[1:k]; p <- mean[1:k]; ok <- !is.na(a)
    if (!any(ok)) next
    a <- a[ok]; p <- p[ok]
    den <- abs(a) + abs(p)
    smape <- c(smape, mean(ifelse(den > 0, 200 * abs(a - p) / den, 0)))
    sc <- mase_scale(s$train, s$m)
    if (!is.na(sc)) mase <- c(mase, mean(abs(a - p)) / sc)
    l95 <- as.numeric(lo[, 2])[1:k][ok]; h95 <- as.numeric(hi[, 2])[1:k][ok]
    inside <- inside + sum(a >= l95 & a <= h95)
    points <- points + length(a)
  }
  if (length(rows)) write.csv(do.call(rbind, rows), file.path(args[2], paste0(name, ".csv")), row.names = FALSE,
                              quote = FALSE)
  cat(sprintf("method=%s series=%d smape=%.3f mase=%.3f coverage95=%.1f seconds=%.3f failures=%d\n", name,
              length(series), mean(smape), mean(mase), 100 * inside / points, secs, failures))
}

run("ets", function(y, h) forecast(ets(y), h = h, level = c(80, 95)))
run("thetaf", function(y, h) thetaf(y, h = h, level = c(80, 95)))
