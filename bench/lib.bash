# lib.bash - what the bench/ scripts share; sourced, not run.

# median: the median of the numbers on stdin (spaces or newlines between
# them), the mean of the middle two for an even count.
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# round_median DIR COMMAND: COMMAND's figure from hyperfine's CSV exports
# DIR/round-*.csv (command,mean,stddev,median,...; seconds): the median of
# the rounds' medians, in ms, two decimals (the lower middle for an even
# count of rounds).
round_median() {
	awk -F, -v c="$2" 'FNR > 1 && $1 == c { print $4 * 1000 }' "$1"/round-*.csv |
		sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] }'
}
