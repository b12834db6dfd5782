#!/bin/sh
# CMUdict (npm cmu-pronouncing-dictionary, index.js: `  "word": "K AE1 T",`)
# -> the tsv source's `c a t<TAB>K AE T` lines for grapheme-to-phoneme:
# letters and phonemes space-separated (tokens "words"), the first
# pronunciation of each word only (entries "word(2)" dropped), lexical
# stress digits removed (the 39 ARPAbet phonemes), lines ordered by a hash
# of the word so the tsv source's last valid_frac / test_frac are random
# held-out words (the same on every machine).  Comments after "#" in a
# few entries ("# place, french") are dropped.
# Usage: sh results/cmudict_tsv.sh INDEX.JS > OUT.tsv
set -eu
grep '^  "' "$1" | sed -n 's/^  "\([^"(]*\)": "\([^"]*\)",\{0,1\}$/\1\t\2/p' |
	awk -F '\t' '{
		h = 5381
		for (i = 1; i <= length($1); i++) h = (h * 33 + index("abcdefghijklmnopqrstuvwxyz'"'"'.-_0123456789", substr($1, i, 1))) % 2147483647
		w = ""
		for (i = 1; i <= length($1); i++) w = w (i > 1 ? " " : "") substr($1, i, 1)
		p = $2
		sub(/ *#.*/, "", p)
		gsub(/[0-9]/, "", p)
		printf "%010d\t%s\t%s\n", h, w, p
	}' | LC_ALL=C sort | cut -f 2-
