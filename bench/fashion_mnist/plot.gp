# Fashion-MNIST training curves from fashion_mnist_epochs.csv (bench/fashion_mnist/main.cpp):
# test accuracy and training loss per epoch, fusegrad and libtorch, one row per model.
#   gnuplot -c plot.gp fashion_mnist_epochs.csv fashion_mnist.png ["mlp cnn"]
# The third argument lists the models the CSV holds (default both).
# The CSV holds each (model, library) series as a contiguous block of rows; a series is
# drawn by making every other row undefined.
csv = ARG1
png = ARG2
models = ARGC >= 3 ? ARG3 : "mlp cnn"
set terminal pngcairo size 1100,760 font "sans,10"
set output png
set datafile separator ","
set key bottom right
set grid
set xlabel "epoch"

series(model, library, column) = (strcol(1) eq model && strcol(2) eq library) ? column(column) : NaN
set style line 1 lw 2 pt 7 ps 0.6 lc rgb '#1f77b4'
set style line 2 lw 2 pt 5 ps 0.6 lc rgb '#d62728' dt 2
set style line 3 lw 1 lc rgb '#777777' dt 3

set multiplot layout words(models),2 title "Fashion-MNIST, float, one thread: fusegrad and libtorch from the same weights and batches"
do for [model in models] {
  title_model = model eq "mlp" ? "MLP 784-256-128-10" : "CNN conv 32, conv 64, linear"
  target = model eq "mlp" ? 0.883 : 0.916
  set title title_model . ": test accuracy"
  set ylabel "test accuracy"
  set key bottom right
  plot csv using 3:(series(model, "fusegrad", 6)) skip 1 with linespoints ls 1 title "fusegrad", \
       csv using 3:(series(model, "libtorch", 6)) skip 1 with linespoints ls 2 title "libtorch", \
       target with lines ls 3 title sprintf("target %.3f", target)
  set title title_model . ": training loss (epoch mean)"
  set ylabel "training loss"
  set key top right
  plot csv using 3:(series(model, "fusegrad", 5)) skip 1 with linespoints ls 1 title "fusegrad", \
       csv using 3:(series(model, "libtorch", 5)) skip 1 with linespoints ls 2 title "libtorch"
}
unset multiplot
