#!/bin/sh
# The installed library as a program sees it: `make install` into a
# temporary DESTDIR with PREFIX=/usr, then, with pkg-config pointed at that
# tree, build and run the README's example (a custom cell with its own
# parameters and a gradient check) against reel and reel_f64, a C++ program
# against reel, and check that a scalar-type mismatch fails to link with
# the tag's name in the message.  Closes with "install: N passed, M failed".
cd "$(dirname "$0")/.." || exit 1
MAKE_CMD=${REEL_MAKE:-make}
CC=${CC:-cc}
CXX=${CXX:-g++}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/reel-install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL install: $1"; [ -n "$2" ] && printf '%s\n' "$2" | sed 's/^/    /' | head -n 20; }

root=$tmp/root
out=$($MAKE_CMD -s install DESTDIR="$root" PREFIX=/usr 2>&1) && ok || bad "make install" "$out"

# the installed set: public headers under reel/, no internal ones, both libraries, the program
for f in usr/include/reel/reel.h usr/include/reel/layers.h usr/lib/libreel.a usr/lib/libreel_f64.a \
	usr/lib/libreel.so usr/lib/libreel.so.0 usr/lib/libreel_f64.so usr/lib/pkgconfig/reel.pc \
	usr/lib/pkgconfig/reel_f64.pc usr/bin/reel; do
	[ -e "$root/$f" ] && ok || bad "$f not installed"
done
for f in internal.h fastmath.h config.h model.h data.h; do
	[ -e "$root/usr/include/reel/$f" ] && bad "internal header $f installed" || ok
done
soname=$(readelf -d "$root/usr/lib/libreel.so" 2>/dev/null | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = libreel.so.0 ] && ok || bad "soname of libreel.so is \"$soname\", expected libreel.so.0"
# the shared libraries export the public API only (engine/libreel.map):
# no engine internal (reel__*) beyond the two public layers.h declares
for so in libreel.so libreel_f64.so; do
	extra=$(nm -D --defined-only "$root/usr/lib/$so" | awk '{print $3}' | grep '^reel__' |
		grep -v -x -e reel__layer_param -e reel__input_projection)
	[ -z "$extra" ] && ok || bad "$so exports internal symbols" "$extra"
done
out=$("$root/usr/bin/reel" --version 2>&1) && ok || bad "installed reel --version" "$out"

export PKG_CONFIG_PATH="$root/usr/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$root" PKG_CONFIG_LIBDIR="$root/usr/lib/pkgconfig"
export LD_LIBRARY_PATH="$root/usr/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# every installed header stands alone, in C and in C++
for h in "$root"/usr/include/reel/*.h; do
	n=$(basename "$h")
	printf '#include <reel/%s>\nint reel_header_check;\n' "$n" > "$tmp/h.c"
	# shellcheck disable=SC2046
	out=$($CC -std=c11 -Wall -Wextra -Werror -fsyntax-only $(pkg-config --cflags reel) "$tmp/h.c" 2>&1) && ok || bad "reel/$n alone (C)" "$out"
	cp "$tmp/h.c" "$tmp/h.cpp"
	# shellcheck disable=SC2046
	out=$($CXX -std=c++11 -Wall -Wextra -Werror -fsyntax-only $(pkg-config --cflags reel) "$tmp/h.cpp" 2>&1) && ok || bad "reel/$n alone (C++)" "$out"
done

# the README's example, exactly: the first ```c block of "## Use reel from your program"
awk '/^## Use reel from your program/ {s = 1} s && /^```c$/ {c = 1; next} c && /^```$/ {exit} c {print}' README.md > "$tmp/leaky.c"
[ -s "$tmp/leaky.c" ] && ok || bad "no C example in README.md's \"Use reel from your program\""
for pc in reel reel_f64; do
	# shellcheck disable=SC2046
	out=$($CC -std=c11 -Wall -Wextra -Werror -o "$tmp/leaky_$pc" "$tmp/leaky.c" $(pkg-config --cflags --libs $pc) 2>&1) \
		&& ok || bad "README example against $pc: build" "$out"
	out=$("$tmp/leaky_$pc" 2>&1) && ok || bad "README example against $pc: run" "$out"
	printf '%s\n' "$out" | grep -q "^ok " && ok || bad "README example against $pc: no ok line" "$out"
done

# C++: extern "C" declarations, the headers parse as C++
cat > "$tmp/prog.cpp" <<'CPP'
#include <reel/reel.h>
#include <cstdio>

int main()
{
	reel_params *ps = reel_params_new();
	reel_rng rng;
	reel_rng_seed(&rng, 3);
	reel_rnn lstm;
	reel_rnn_opts o = {};
	o.cell = reel_cell_find("lstm");
	o.input_size = 3;
	o.hidden_size = 4;
	reel_err err;
	if (!o.cell || reel_rnn_init(&lstm, ps, "lstm.", &o, &rng, &err) != REEL_OK)
		return 1;
	reel_tape *t = reel_tape_new(0, 1);
	reel_tensor *x = reel_tensor_new3(t, 5, 2, 3, REEL_NOGRAD);
	reel_rnn_out out;
	reel_rnn_forward(t, &lstm, x, NULL, NULL, NULL, &out);
	reel_tensor *loss = reel_sum(t, reel_tanh(t, out.y));
	if (!loss || reel_backward(t, loss) != REEL_OK) {
		std::fprintf(stderr, "%s\n", reel_tape_error(t));
		return 1;
	}
	std::printf("c++ ok: %d parameters, loss %g\n", reel_params_count(ps), (double)loss->data[0]);
	reel_tape_free(t);
	reel_params_free(ps);
	return 0;
}
CPP
# shellcheck disable=SC2046
out=$($CXX -std=c++11 -Wall -Wextra -Werror -o "$tmp/prog_cpp" "$tmp/prog.cpp" $(pkg-config --cflags --libs reel) 2>&1) \
	&& ok || bad "C++ program: build" "$out"
out=$("$tmp/prog_cpp" 2>&1) && printf '%s\n' "$out" | grep -q "^c++ ok" && ok || bad "C++ program: run" "$out"

# a float program against libreel_f64 (and a double one against libreel) must not link
printf '#include <reel/reel.h>\nint main(void) { reel_tape_free(reel_tape_new(0, 1)); return 0; }\n' > "$tmp/small.c"
inc=$(pkg-config --cflags reel)
libdir="$root/usr/lib"
# shellcheck disable=SC2086
out=$($CC -o "$tmp/mix1" "$tmp/small.c" $inc -L"$libdir" -lreel_f64 2>&1) \
	&& bad "a float program linked against libreel_f64" || \
	{ printf '%s\n' "$out" | grep -q "reel_abi_float__link_with_libreel" && ok || bad "float vs libreel_f64: unclear error" "$out"; }
# shellcheck disable=SC2086
# (the archive's own dependencies, as reel_f64.pc's Libs.private lists them)
# shellcheck disable=SC2046
out=$($CC -o "$tmp/mix2" "$tmp/small.c" $inc "$libdir/libreel_f64.a" $(pkg-config --static --libs-only-l reel_f64 | sed 's/-lreel_f64//') 2>&1) \
	&& bad "a float program linked against libreel_f64.a" || \
	{ printf '%s\n' "$out" | grep -q "reel_abi_float__link_with_libreel" && ok || bad "float vs libreel_f64.a: unclear error" "$out"; }
# shellcheck disable=SC2086
out=$($CC -DREEL_DOUBLE -o "$tmp/mix3" "$tmp/small.c" $inc -L"$libdir" -lreel 2>&1) \
	&& bad "a double program linked against libreel" || \
	{ printf '%s\n' "$out" | grep -q "reel_abi_double__link_with_libreel_f64" && ok || bad "double vs libreel: unclear error" "$out"; }

echo "install: $pass passed, $fail failed"
[ "$fail" = 0 ]
