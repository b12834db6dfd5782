#!/bin/sh
# Writes the small committed slices in configs/data/quick/ that
# `make results QUICK=1` and the tests use (no cache, no network there),
# from the cache `make data` fills.  Deterministic: rerunning gives the
# same bytes (gzip -n: no name or time in the header).
#   fashion-mnist: the first 200 training and 100 test images and labels
#   devil: the first 40 000 bytes of the dictd text, gzipped (read with zlib)
#   sunspots.csv: the whole file (309 rows; public domain)
set -eu
CACHE=${1:-data-cache}
OUT=configs/data/quick
mkdir -p "$OUT"
be32() { # big-endian 32-bit n as 4 raw bytes
	n=$1
	printf "\\$(printf %o $((n >> 24 & 255)))\\$(printf %o $((n >> 16 & 255)))\\$(printf %o $((n >> 8 & 255)))\\$(printf %o $((n & 255)))"
}
slice() { # $1 source images or labels (.gz), $2 count, $3 dims (3 images, 1 labels), $4 out
	{
		printf '\000\000\010'; printf "\\$(printf %o "$3")"; be32 "$2"
		if [ "$3" = 3 ]; then
			be32 28; be32 28
			gzip -dc "$1" | tail -c +17 | head -c $(($2 * 784))
		else
			gzip -dc "$1" | tail -c +9 | head -c "$2"
		fi
	} | gzip -9n > "$4"
}
FM=$CACHE/fashion-mnist
slice "$FM/train-images-idx3-ubyte.gz" 200 3 "$OUT/fashion-train-images-idx3-ubyte.gz"
slice "$FM/train-labels-idx1-ubyte.gz" 200 1 "$OUT/fashion-train-labels-idx1-ubyte.gz"
slice "$FM/t10k-images-idx3-ubyte.gz" 100 3 "$OUT/fashion-t10k-images-idx3-ubyte.gz"
slice "$FM/t10k-labels-idx1-ubyte.gz" 100 1 "$OUT/fashion-t10k-labels-idx1-ubyte.gz"
gzip -dc "$CACHE/devil.dict.dz" | head -c 40000 | gzip -9n > "$OUT/devil-head.txt.gz"
cp "$CACHE/sunspots.csv" "$OUT/sunspots.csv"
ls -l "$OUT"
