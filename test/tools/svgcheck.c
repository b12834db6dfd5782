/* svgcheck: is a file well-formed XML, and does it hold the expected
 * elements?  A small checking parser for the tests (make test needs no
 * Python or libxml2):
 *
 *   svgcheck FILE [--root NAME] [--min NAME=N]... [--text STRING]...
 *
 * Checks: UTF-8; an optional XML declaration; comments and processing
 * instructions; exactly one root element; start and end tags that nest
 * and match; attribute names unique within an element, each with a quoted
 * value without '<'; character and entity references limited to XML's five
 * entities and numeric ones; no text outside the root; then the root's name,
 * a minimum count per element name, and texts that must occur in some
 * element's character data.  Prints a summary and exits 0, or prints
 * "FILE:LINE:COL: what" and exits 1 (2 on bad usage). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 256
#define MAX_NAMES 128
#define MAX_ATTRS 64

typedef struct parser {
	const char *file, *s;
	size_t n, i;
	char *text;      /* all character data, '\n'-joined (for --text) */
	size_t tn, tcap;
	char names[MAX_NAMES][64];
	long counts[MAX_NAMES];
	int nnames;
} parser;

static int fail(const parser *p, const char *what)
{
	int line = 1, col = 1;
	for (size_t k = 0; k < p->i && k < p->n; k++) {
		if (p->s[k] == '\n')
			line++, col = 1;
		else
			col++;
	}
	fprintf(stderr, "%s:%d:%d: %s\n", p->file, line, col, what);
	return -1;
}

static int starts(const parser *p, const char *lit)
{
	size_t l = strlen(lit);
	return p->i + l <= p->n && !memcmp(p->s + p->i, lit, l);
}

static int name_start(unsigned char c)
{
	return isalpha(c) || c == '_' || c == ':' || c >= 0x80;
}

static int name_char(unsigned char c)
{
	return name_start(c) || isdigit(c) || c == '-' || c == '.';
}

/* A name at p->i into out (truncated to cap - 1); 0 or -1. */
static int read_name(parser *p, char *out, size_t cap)
{
	size_t st = p->i;
	if (p->i >= p->n || !name_start((unsigned char)p->s[p->i]))
		return fail(p, "expected a name");
	while (p->i < p->n && name_char((unsigned char)p->s[p->i]))
		p->i++;
	size_t l = p->i - st < cap - 1 ? p->i - st : cap - 1;
	memcpy(out, p->s + st, l);
	out[l] = 0;
	return 0;
}

static void skip_ws(parser *p)
{
	while (p->i < p->n && strchr(" \t\r\n", p->s[p->i]))
		p->i++;
}

static int add_text(parser *p, const char *s, size_t l)
{
	if (p->tn + l + 2 > p->tcap) {
		size_t cap = (p->tcap ? p->tcap * 2 : 4096) + l;
		char *t = realloc(p->text, cap);
		if (!t)
			return -1;
		p->text = t;
		p->tcap = cap;
	}
	memcpy(p->text + p->tn, s, l);
	p->tn += l;
	p->text[p->tn] = 0;
	return 0;
}

/* A reference after '&': one of the five entities or a numeric one. */
static int reference(parser *p)
{
	static const char *const ent[] = {"lt;", "gt;", "amp;", "quot;", "apos;"};
	p->i++;
	for (int k = 0; k < 5; k++)
		if (starts(p, ent[k])) {
			p->i += strlen(ent[k]);
			return 0;
		}
	if (starts(p, "#x")) {
		p->i += 2;
		size_t st = p->i;
		while (p->i < p->n && isxdigit((unsigned char)p->s[p->i]))
			p->i++;
		if (p->i == st || p->i >= p->n || p->s[p->i] != ';')
			return fail(p, "malformed hexadecimal character reference");
		p->i++;
		return 0;
	}
	if (starts(p, "#")) {
		p->i++;
		size_t st = p->i;
		while (p->i < p->n && isdigit((unsigned char)p->s[p->i]))
			p->i++;
		if (p->i == st || p->i >= p->n || p->s[p->i] != ';')
			return fail(p, "malformed character reference");
		p->i++;
		return 0;
	}
	return fail(p, "'&' that starts no known entity (escape it as &amp;)");
}

static void count(parser *p, const char *name)
{
	for (int k = 0; k < p->nnames; k++)
		if (!strcmp(p->names[k], name)) {
			p->counts[k]++;
			return;
		}
	if (p->nnames < MAX_NAMES) {
		snprintf(p->names[p->nnames], sizeof p->names[0], "%s", name);
		p->counts[p->nnames++] = 1;
	}
}

static int misc(parser *p)
{
	if (starts(p, "<!--")) {
		const char *e = NULL;
		for (size_t k = p->i + 4; k + 3 <= p->n; k++)
			if (!memcmp(p->s + k, "-->", 3)) {
				e = p->s + k;
				break;
			}
		if (!e)
			return fail(p, "unterminated comment");
		p->i = (size_t)(e - p->s) + 3;
		return 1;
	}
	if (starts(p, "<?")) {
		for (size_t k = p->i + 2; k + 2 <= p->n; k++)
			if (!memcmp(p->s + k, "?>", 2)) {
				p->i = k + 2;
				return 1;
			}
		return fail(p, "unterminated processing instruction");
	}
	return 0;
}

static int parse(parser *p, char *root)
{
	char stack[MAX_DEPTH][64];
	int depth = 0, seen_root = 0;
	while (p->i < p->n) {
		char c = p->s[p->i];
		if (c != '<') {
			size_t st = p->i;
			while (p->i < p->n && p->s[p->i] != '<') {
				if (p->s[p->i] == '&') {
					if (reference(p))
						return -1;
					continue;
				}
				if (p->s[p->i] == '>' && p->i >= 2 && !memcmp(p->s + p->i - 2, "]]", 2))
					return fail(p, "']]>' in character data");
				if (depth == 0 && !strchr(" \t\r\n", p->s[p->i]))
					return fail(p, "text outside the root element");
				p->i++;
			}
			if (depth > 0 && (add_text(p, p->s + st, p->i - st) || add_text(p, "\n", 1)))
				return fail(p, "out of memory");
			continue;
		}
		int r = misc(p);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		if (starts(p, "<!"))
			return fail(p, "DOCTYPE, CDATA and other declarations are not expected in reel's SVG");
		if (starts(p, "</")) {
			p->i += 2;
			char name[64];
			if (read_name(p, name, sizeof name))
				return -1;
			skip_ws(p);
			if (p->i >= p->n || p->s[p->i] != '>')
				return fail(p, "expected '>' after the end tag's name");
			p->i++;
			if (depth == 0)
				return fail(p, "an end tag without a start tag");
			if (strcmp(stack[depth - 1], name)) {
				char msg[200];
				snprintf(msg, sizeof msg, "end tag </%s> closes <%s>", name, stack[depth - 1]);
				return fail(p, msg);
			}
			depth--;
			continue;
		}
		p->i++;
		char name[64];
		if (read_name(p, name, sizeof name))
			return -1;
		if (depth == 0) {
			if (seen_root)
				return fail(p, "a second root element");
			seen_root = 1;
			snprintf(root, 64, "%s", name);
		}
		count(p, name);
		char attrs[MAX_ATTRS][64];
		int na = 0;
		for (;;) {
			size_t before = p->i;
			skip_ws(p);
			if (p->i >= p->n)
				return fail(p, "unterminated start tag");
			if (p->s[p->i] == '>' || starts(p, "/>"))
				break;
			if (p->i == before)
				return fail(p, "expected white space before an attribute");
			char an[64];
			if (read_name(p, an, sizeof an))
				return -1;
			for (int k = 0; k < na; k++)
				if (!strcmp(attrs[k], an))
					return fail(p, "a repeated attribute");
			if (na < MAX_ATTRS)
				snprintf(attrs[na++], sizeof attrs[0], "%s", an);
			skip_ws(p);
			if (p->i >= p->n || p->s[p->i] != '=')
				return fail(p, "expected '=' after an attribute name");
			p->i++;
			skip_ws(p);
			if (p->i >= p->n || (p->s[p->i] != '"' && p->s[p->i] != '\''))
				return fail(p, "expected a quoted attribute value");
			char q = p->s[p->i++];
			while (p->i < p->n && p->s[p->i] != q) {
				if (p->s[p->i] == '<')
					return fail(p, "'<' in an attribute value");
				if (p->s[p->i] == '&') {
					if (reference(p))
						return -1;
					continue;
				}
				p->i++;
			}
			if (p->i >= p->n)
				return fail(p, "unterminated attribute value");
			p->i++;
		}
		if (starts(p, "/>")) {
			p->i += 2;
			continue;
		}
		p->i++;
		if (depth == MAX_DEPTH)
			return fail(p, "elements nested too deeply");
		snprintf(stack[depth++], sizeof stack[0], "%s", name);
	}
	if (depth > 0) {
		char msg[120];
		snprintf(msg, sizeof msg, "the file ends inside <%s>", stack[depth - 1]);
		return fail(p, msg);
	}
	if (!seen_root)
		return fail(p, "no root element");
	return 0;
}

static int utf8_ok(const unsigned char *s, size_t n, size_t *bad)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		int l = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
		if (!l || i + (size_t)l > n || (c < 0x20 && !strchr("\t\r\n", c))) {
			*bad = i;
			return 0;
		}
		for (int k = 1; k < l; k++)
			if ((s[i + k] >> 6) != 2) {
				*bad = i;
				return 0;
			}
		i += (size_t)l;
	}
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: svgcheck FILE [--root NAME] [--min NAME=N]... [--text STRING]...\n");
		return 2;
	}
	const char *file = argv[1];
	FILE *f = fopen(file, "rb");
	if (!f) {
		fprintf(stderr, "%s: cannot open\n", file);
		return 1;
	}
	size_t cap = 1 << 16, n = 0, got;
	char *s = malloc(cap);
	while (s && (got = fread(s + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			char *t = realloc(s, cap *= 2);
			if (!t) {
				free(s);
				s = NULL;
			}
			s = t;
		}
	}
	fclose(f);
	if (!s) {
		fprintf(stderr, "%s: out of memory\n", file);
		return 1;
	}
	parser p = {.file = file, .s = s, .n = n};
	size_t bad;
	char root[64] = "";
	int rc = 0;
	if (!utf8_ok((const unsigned char *)s, n, &bad)) {
		p.i = bad;
		fail(&p, "not UTF-8, or a control character");
		rc = 1;
	} else if (parse(&p, root)) {
		rc = 1;
	}
	for (int a = 2; rc == 0 && a < argc; a++) {
		if (!strcmp(argv[a], "--root") && a + 1 < argc) {
			if (strcmp(root, argv[++a])) {
				fprintf(stderr, "%s: the root element is <%s>, expected <%s>\n", file, root, argv[a]);
				rc = 1;
			}
		} else if (!strcmp(argv[a], "--min") && a + 1 < argc) {
			const char *spec = argv[++a], *eq = strchr(spec, '=');
			if (!eq) {
				fprintf(stderr, "svgcheck: --min NAME=N, found %s\n", spec);
				rc = 2;
				break;
			}
			long want = atol(eq + 1), have = 0;
			for (int k = 0; k < p.nnames; k++)
				if (strlen(p.names[k]) == (size_t)(eq - spec) && !strncmp(p.names[k], spec, (size_t)(eq - spec)))
					have = p.counts[k];
			if (have < want) {
				fprintf(stderr, "%s: %ld <%.*s> elements, expected at least %ld\n", file, have, (int)(eq - spec), spec,
				        want);
				rc = 1;
			}
		} else if (!strcmp(argv[a], "--text") && a + 1 < argc) {
			a++;
			if (!p.text || !strstr(p.text, argv[a])) {
				fprintf(stderr, "%s: no element's text contains \"%s\"\n", file, argv[a]);
				rc = 1;
			}
		} else {
			fprintf(stderr, "svgcheck: unknown argument %s\n", argv[a]);
			rc = 2;
			break;
		}
	}
	if (rc == 0) {
		long total = 0;
		for (int k = 0; k < p.nnames; k++)
			total += p.counts[k];
		printf("%s: well-formed, root <%s>, %ld elements (", file, root, total);
		for (int k = 0; k < p.nnames; k++)
			printf("%s%s %ld", k ? ", " : "", p.names[k], p.counts[k]);
		printf(")\n");
	}
	free(p.text);
	free(s);
	return rc;
}
