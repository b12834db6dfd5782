#!/bin/sh
# make data: fetch the real data sets of the results table (README.md,
# "Results on real data") into an ignored cache folder, changing nothing
# else on the system: Debian packages are downloaded with `apt-get
# download` and unpacked with `dpkg-deb -x` (not installed), the npm
# package with `npm pack` (not installed).  Rerunning skips what is there.
#
#   dataset-fashion-mnist  Fashion-MNIST idx files (gzipped; reel reads them with zlib)
#   dict-devil             The Devil's Dictionary, dictd format (dictzip = gzip; read with zlib)
#   python3-statsmodels    sunspots.csv (yearly sunspot numbers 1700-2008); no Python needed
#   cmu-pronouncing-dictionary (npm)  CMUdict as JSON, for grapheme-to-phoneme
#
# Usage: sh results/fetch.sh [CACHE]   (default data-cache)
set -eu
CACHE=${1:-data-cache}
mkdir -p "$CACHE/deb" "$CACHE/root" "$CACHE/npm"
CACHE=$(cd "$CACHE" && pwd)

deb() { # $1 package, $2 a file it must provide (relative to the unpacked root)
	if [ -e "$CACHE/root/$2" ]; then
		echo "data: $1 already in $CACHE"
		return 0
	fi
	command -v apt-get >/dev/null || { echo "data: apt-get not found (a Debian system is needed for $1)"; exit 1; }
	echo "data: apt-get download $1"
	(cd "$CACHE/deb" && rm -f "$1"_*.deb && apt-get download "$1" >/dev/null 2>"$CACHE/deb/$1.log") ||
		{ cat "$CACHE/deb/$1.log"; echo "data: apt-get download $1 failed (try apt-get update)"; exit 1; }
	dpkg-deb -x "$CACHE/deb/$1"_*.deb "$CACHE/root"
	[ -e "$CACHE/root/$2" ] || { echo "data: $1 does not contain $2"; exit 1; }
}

deb dataset-fashion-mnist usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
deb dict-devil usr/share/dictd/devil.dict.dz
deb python3-statsmodels usr/lib/python3/dist-packages/statsmodels/datasets/sunspots/sunspots.csv

if [ -e "$CACHE/npm/package/index.js" ]; then
	echo "data: cmu-pronouncing-dictionary already in $CACHE"
elif command -v npm >/dev/null; then
	echo "data: npm pack cmu-pronouncing-dictionary"
	(cd "$CACHE/npm" && npm pack --silent cmu-pronouncing-dictionary@3.0.0 >pack.log 2>&1 &&
		tar xzf cmu-pronouncing-dictionary-3.0.0.tgz) || { cat "$CACHE/npm/pack.log"; echo "data: npm pack failed"; exit 1; }
else
	echo "data: npm not found: skipping cmu-pronouncing-dictionary (G2P)"
fi

# CMUdict as the tsv source's letters<TAB>phonemes (results/cmudict_tsv.sh)
if [ -e "$CACHE/npm/package/index.js" ] && [ ! -s "$CACHE/cmudict.tsv" ]; then
	echo "data: cmudict.tsv from the npm package"
	sh "$(dirname "$0")/cmudict_tsv.sh" "$CACHE/npm/package/index.js" > "$CACHE/cmudict.tsv.tmp" &&
		mv "$CACHE/cmudict.tsv.tmp" "$CACHE/cmudict.tsv"
fi

# Stable names the configs use (configs/real/*.json read ../../data-cache/...)
ln -sf root/usr/share/datasets/fashion-mnist "$CACHE/fashion-mnist"
ln -sf root/usr/share/dictd/devil.dict.dz "$CACHE/devil.dict.dz"
ln -sf root/usr/lib/python3/dist-packages/statsmodels/datasets/sunspots/sunspots.csv "$CACHE/sunspots.csv"
echo "data: ready in $CACHE"
ls -l "$CACHE" | sed 1d
