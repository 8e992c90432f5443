# Chart of fusegrad_bench's ratios, fusegrad / hand-written Eigen and fusegrad /
# libtorch per workload (time per call; below 1: fusegrad faster), log scale.
#   gnuplot -c plot_results.gp [bench_results.csv [bench_results.png]]
# run_bench calls it on the CSV it has just written. CSV columns used: 1 workload, 2 n,
# 7 fusegrad_over_hand, 8 fusegrad_over_torch (empty when libtorch was not timed),
# 15 scalar (double or float; the float rows' labels say so).
csv = ARGC >= 1 ? ARG1 : 'bench_results.csv'
png = ARGC >= 2 ? ARG2 : 'bench_results.png'

set datafile separator ','

# The range of the ratios (and 1), for the y axis.
lo = 1.0; hi = 1.0
upd(c) = valid(c) ? (lo = (column(c) < lo ? column(c) : lo), hi = (column(c) > hi ? column(c) : hi), 0) : 0
set table $scan
plot csv every ::1 using (upd(7) + upd(8)):(0) with table
unset table

set terminal pngcairo size 1800,720 font ',10'
set output png
set title "fusegrad: time per call (value + full gradient, double and float, one thread) relative to each peer"
set ylabel "time ratio (log scale; below 1: fusegrad faster)"
set logscale y 10
set yrange [lo / 1.6 : hi * 1.6]
set ytics add (0.2, 0.5, 2, 5, 20, 50, 200, 500)
set grid ytics lc rgb '#dddddd'
set xtics rotate by 30 right nomirror
set xrange [-0.7:*]
set lmargin 16
set bmargin 12
set key top left opaque

# n as 10^k for powers of ten from 100 on.
k(n) = int(log10(n) + 0.5)
pretty(n) = (n >= 100 && 10**k(n) == n) ? sprintf("10^%d", k(n)) : sprintf("%d", n)
label(w, n, s) = sprintf("%s, n=%s%s", w, pretty(n), s eq "float" ? " (float)" : "")
bw = 0.38
# Value labels just beyond the bar's end.
at(r) = r >= 1 ? r * 1.12 : r / 1.12
fmt(r) = r >= 100 ? sprintf("%.0f", r) : sprintf("%.2g", r)

# Bars from 1 to the ratio (up: fusegrad slower, down: faster); a line at 1.
plot csv every ::1 using ($0 - bw/2):7:($0 - bw):($0):(1):7:xtic(label(strcol(1), int(column(2)), strcol(15))) \
       with boxxyerror fs solid 0.8 noborder lc rgb '#3b75af' title 'fusegrad / hand-written Eigen', \
     '' every ::1 using ($0 + bw/2):8:($0):($0 + bw):(1):8 \
       with boxxyerror fs solid 0.8 noborder lc rgb '#ef8636' title 'fusegrad / libtorch', \
     '' every ::1 using ($0 - bw/2):(at($7)):(fmt($7)) with labels font ',8' notitle, \
     '' every ::1 using ($0 + bw/2):(at($8)):(fmt($8)) with labels font ',8' notitle, \
     1 with lines lc rgb 'black' lw 1.5 notitle
