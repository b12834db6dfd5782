#!/bin/sh
# configs/README.md carries the output of `reel list` between two markers.
#   test/reel_list_doc.sh REEL          rewrite the block from REEL list
#   test/reel_list_doc.sh REEL --check  exit 1 (with a diff) if it is stale
REEL=${1:-build/f/reel}
doc=configs/README.md
tmp=$(mktemp) || exit 1
trap 'rm -f "$tmp" "$tmp.new"' EXIT
"$REEL" list > "$tmp" || exit 1
if [ "$2" = "--check" ]; then
	sed -n '/^<!-- reel list -->$/,/^<!-- \/reel list -->$/p' "$doc" | sed '1,2d;$d' | sed '$d' > "$tmp.new"
	if ! diff -u "$tmp.new" "$tmp" > /dev/null; then
		echo "$doc: the reel list block is stale (run: make docs)"; diff -u "$tmp.new" "$tmp" | head -n 20
		exit 1
	fi
	exit 0
fi
awk -v list="$tmp" '
	/^<!-- reel list -->$/ { print; print "```"; while ((getline l < list) > 0) print l; print "```"; skip = 1; next }
	/^<!-- \/reel list -->$/ { skip = 0 }
	!skip { print }' "$doc" > "$tmp.new" && mv "$tmp.new" "$doc"
