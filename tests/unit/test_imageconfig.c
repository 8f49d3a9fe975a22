/* test_imageconfig.c - layer.json parsing, config merging and string
 * vectors (lib/image/imageconfig.c).  Pure functions; runs as any user. */
#include "build-config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imageconfig.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int parse(struct lr_layer_meta *m, const char *json, struct lr_error *err)
{
	return lr_layer_meta_parse(m, json, strlen(json), err);
}

static void parse_ok(struct lr_layer_meta *m, const char *json)
{
	struct lr_error err = {0};
	int r = parse(m, json, &err);
	if (r != 0)
		fail_msg("parse(%.80s) = %d: %s", json, r, err.msg);
}

/* Parsing fails with -code and a message containing want; the output
 * struct is not touched. */
static void expect_error_len(const char *json, size_t len, int code, const char *want)
{
	struct lr_layer_meta m;
	memset(&m, 0xA5, sizeof(m));
	struct lr_layer_meta before = m;
	struct lr_error err = {0};
	int r = lr_layer_meta_parse(&m, json, len, &err);
	if (r != -code)
		fail_msg("parse(%.80s) = %d (%s), expected %d", json, r, err.msg, -code);
	if (!strstr(err.msg, want))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
	assert_memory_equal(&m, &before, sizeof(m));
}

static void expect_error(const char *json, int code, const char *want)
{
	expect_error_len(json, strlen(json), code, want);
}

static void assert_strv(const struct lr_strv *v, const char *const *want)
{
	size_t n = 0;
	while (want[n])
		n++;
	assert_int_equal(v->n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(v->v[i], want[i]);
	assert_non_null(v->v);
	assert_null(v->v[n]);
}

/* A JSON array of n "K<i>=v" strings, as the value of "env". */
static char *env_document(size_t n)
{
	size_t cap = 64 + n * 16;
	char *s = malloc(cap);
	assert_non_null(s);
	size_t len = (size_t)snprintf(s, cap, "{\"config\":{\"env\":[");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s\"K%zu=v\"", i ? "," : "", i);
	snprintf(s + len, cap - len, "]}}");
	return s;
}

/* ------------------------------------------------------------ parsing */

static void parses_a_full_document(void **state)
{
	struct lr_layer_meta m;
	parse_ok(&m, "{\"parent\": \"sha256:" HEX64 "\",\n"
		     " \"config\": {\"entrypoint\": [\"/bin/sh\", \"-c\"],\n"
		     "            \"cmd\": [\"echo hi\"],\n"
		     "            \"env\": [\"PATH=/usr/bin\", \"K=V\"],\n"
		     "            \"workdir\": \"/work\",\n"
		     "            \"labels\": {\"org.example.lab\": \"bio\"},\n"
		     "            \"future\": 1},\n"
		     " \"provenance\": {\"tool\": \"labrun-image\"},\n"
		     " \"later\": [\"ignored\"]}");
	assert_true(m.has_parent);
	assert_string_equal(m.parent_hex, HEX64);
	assert_true(m.config.has_entrypoint);
	assert_strv(&m.config.entrypoint, (const char *[]){"/bin/sh", "-c", NULL});
	assert_true(m.config.has_cmd);
	assert_strv(&m.config.cmd, (const char *[]){"echo hi", NULL});
	assert_strv(&m.config.env, (const char *[]){"PATH=/usr/bin", "K=V", NULL});
	assert_string_equal(m.config.workdir, "/work");
	assert_strv(&m.config.labels, (const char *[]){"org.example.lab=bio", NULL});
	assert_string_equal(m.provenance_json, "{\"tool\":\"labrun-image\"}");
	lr_layer_meta_free(&m);
}

static void parses_an_empty_object_as_nothing_set(void **state)
{
	struct lr_layer_meta m;
	parse_ok(&m, "{}");
	assert_false(m.has_parent);
	assert_false(m.config.has_entrypoint);
	assert_false(m.config.has_cmd);
	assert_int_equal(m.config.env.n, 0);
	assert_int_equal(m.config.labels.n, 0);
	assert_null(m.config.workdir);
	assert_null(m.provenance_json);
	lr_layer_meta_free(&m);
}

static void rejects_bad_parent_digests(void **state)
{
	const char *want = "parent: expected \"sha256:<64 hex digits>\"";
	const char *bad[] = {
		"{\"parent\": \"sha256:" HEX64 "0\"}",	     /* 65 digits */
		"{\"parent\": \"sha256:0123456789abcdef\"}", /* short */
		"{\"parent\": "
		"\"sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\"}",
		"{\"parent\": "
		"\"sha256:g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}",
		"{\"parent\": \"sha512:" HEX64 "\"}", /* wrong algorithm */
		"{\"parent\": \"sha256-" HEX64 "\"}", /* file-name form */
		"{\"parent\": \"" HEX64 "\"}",	      /* no prefix */
		"{\"parent\": 5}",
		"{\"parent\": null}",
		"{\"parent\": \"sha256:" HEX64 "\\u0000\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(bad[i], EINVAL, want);
}

static void null_entrypoint_clears_while_absent_leaves_unset(void **state)
{
	struct lr_layer_meta m;
	parse_ok(&m, "{\"config\": {\"entrypoint\": null, \"cmd\": []}}");
	assert_true(m.config.has_entrypoint);
	assert_strv(&m.config.entrypoint, (const char *[]){NULL});
	assert_true(m.config.has_cmd);
	assert_strv(&m.config.cmd, (const char *[]){NULL});
	lr_layer_meta_free(&m);
	parse_ok(&m, "{\"config\": {}}");
	assert_false(m.config.has_entrypoint);
	assert_false(m.config.has_cmd);
	lr_layer_meta_free(&m);
}

static void rejects_arguments_that_are_not_strings(void **state)
{
	expect_error("{\"config\": {\"cmd\": [\"a\", 1]}}", EINVAL,
		     "config.cmd[1]: expected a string");
	expect_error("{\"config\": {\"entrypoint\": \"/bin/sh -c\"}}", EINVAL,
		     "config.entrypoint: expected an array of strings or null");
}

static void rejects_malformed_env_entries_naming_their_index(void **state)
{
	expect_error("{\"config\": {\"env\": [\"A=1\", \"B=2\", \"NOEQUALS\"]}}", EINVAL,
		     "config.env[2]: expected \"KEY=VALUE\" string");
	expect_error("{\"config\": {\"env\": [\"=value\"]}}", EINVAL,
		     "config.env[0]: expected \"KEY=VALUE\" string");
	expect_error("{\"config\": {\"env\": [\"A=1\", 7]}}", EINVAL,
		     "config.env[1]: expected \"KEY=VALUE\" string");
	expect_error("{\"config\": {\"env\": {\"A\": \"1\"}}}", EINVAL,
		     "config.env: expected an array");
}

static void later_env_duplicates_replace_earlier_in_place(void **state)
{
	struct lr_layer_meta m;
	parse_ok(&m, "{\"config\": {\"env\": [\"A=1\", \"B=2\", \"A=3\", \"C=x=y\", \"E=\"]}}");
	assert_strv(&m.config.env, (const char *[]){"A=3", "B=2", "C=x=y", "E=", NULL});
	assert_string_equal(lr_strv_getenv(&m.config.env, "C"), "x=y");
	assert_string_equal(lr_strv_getenv(&m.config.env, "E"), "");
	lr_layer_meta_free(&m);
}

static void rejects_duplicate_keys(void **state)
{
	expect_error("{\"config\": {}, \"config\": {}}", EINVAL, "duplicate");
	expect_error("{\"config\": {\"labels\": {\"a\": \"1\", \"a\": \"2\"}}}", EINVAL,
		     "duplicate");
}

static void rejects_nul_bytes_in_strings_naming_their_path(void **state)
{
	expect_error("{\"config\": {\"cmd\": [\"ok\", \"a\\u0000b\"]}}", EINVAL,
		     "config.cmd[1]: string contains a NUL byte");
	expect_error("{\"config\": {\"env\": [\"A=x\\u0000y\"]}}", EINVAL,
		     "config.env[0]: string contains a NUL byte");
	expect_error("{\"config\": {\"workdir\": \"/a\\u0000b\"}}", EINVAL, "config.workdir");
	expect_error("{\"config\": {\"labels\": {\"k\": \"v\\u0000\"}}}", EINVAL,
		     "config.labels.\"k\": string contains a NUL byte");
	expect_error("{\"config\": {\"labels\": {\"k\\u0000x\": \"v\"}}}", EINVAL, "NUL");
}

static void rejects_a_raw_nul_byte_in_the_document(void **state)
{
	static const char doc[] = "{\"config\": {\"cmd\": [\"a\0b\"]}}";
	expect_error_len(doc, sizeof(doc) - 1, EINVAL, "not valid JSON");
}

static void accepts_env_up_to_the_limit_and_rejects_more(void **state)
{
	char *doc = env_document(LR_IMAGECONFIG_MAX_ENV);
	struct lr_layer_meta m;
	parse_ok(&m, doc);
	assert_int_equal(m.config.env.n, LR_IMAGECONFIG_MAX_ENV);
	lr_layer_meta_free(&m);
	free(doc);
	doc = env_document(LR_IMAGECONFIG_MAX_ENV + 1);
	expect_error(doc, E2BIG, "config.env: more than 1024 entries");
	free(doc);
}

static void rejects_more_arguments_than_the_limit(void **state)
{
	size_t cap = 16 + (LR_IMAGECONFIG_MAX_ARGS + 1) * 4 + 32;
	char *doc = malloc(cap);
	assert_non_null(doc);
	size_t len = (size_t)snprintf(doc, cap, "{\"config\":{\"cmd\":[");
	for (int i = 0; i <= LR_IMAGECONFIG_MAX_ARGS; i++)
		len += (size_t)snprintf(doc + len, cap - len, "%s\"a\"", i ? "," : "");
	snprintf(doc + len, cap - len, "]}}");
	expect_error(doc, E2BIG, "config.cmd: more than 256 entries");
	free(doc);
}

static void rejects_more_labels_than_the_limit(void **state)
{
	size_t cap = 64 + (LR_IMAGECONFIG_MAX_LABELS + 1) * 16;
	char *doc = malloc(cap);
	assert_non_null(doc);
	size_t len = (size_t)snprintf(doc, cap, "{\"config\":{\"labels\":{");
	for (int i = 0; i <= LR_IMAGECONFIG_MAX_LABELS; i++)
		len += (size_t)snprintf(doc + len, cap - len, "%s\"l%d\":\"v\"", i ? "," : "", i);
	snprintf(doc + len, cap - len, "}}}");
	expect_error(doc, E2BIG, "config.labels: more than 256 labels");
	free(doc);
}

static void rejects_a_string_longer_than_the_limit(void **state)
{
	size_t n = LR_IMAGECONFIG_MAX_STRING + 1;
	char *doc = malloc(n + 64);
	assert_non_null(doc);
	int len = snprintf(doc, 64, "{\"config\":{\"cmd\":[\"");
	memset(doc + len, 'x', n);
	strcpy(doc + len + n, "\"]}}");
	expect_error(doc, E2BIG, "config.cmd[0]: string longer than 65536 bytes");
	free(doc);
}

static void rejects_a_document_larger_than_the_limit(void **state)
{
	size_t len = LR_LAYERJSON_MAX_BYTES + 1;
	char *doc = malloc(len);
	assert_non_null(doc);
	/* Valid JSON padded with whitespace: only the size is wrong. */
	memset(doc, ' ', len);
	memcpy(doc, "{}", 2);
	expect_error_len(doc, len, EFBIG, "more than the limit of 1048576");
	struct lr_layer_meta m;
	struct lr_error err = {0};
	assert_int_equal(lr_layer_meta_parse(&m, doc, len - 1, &err), 0);
	lr_layer_meta_free(&m);
	free(doc);
}

static void rejects_a_top_level_that_is_not_an_object(void **state)
{
	expect_error("[]", EINVAL, "top level: expected an object");
	expect_error("\"x\"", EINVAL, "not valid JSON");
	expect_error("", EINVAL, "not valid JSON");
}

static void reports_invalid_json_with_its_position(void **state)
{
	expect_error("{\n  \"config\": {,}\n}", EINVAL, "(line 2, column");
	expect_error("{not json", EINVAL, "not valid JSON");
}

static void rejects_a_config_that_is_not_an_object(void **state)
{
	expect_error("{\"config\": []}", EINVAL, "config: expected an object");
	expect_error("{\"config\": null}", EINVAL, "config: expected an object");
}

static void requires_an_absolute_workdir(void **state)
{
	expect_error("{\"config\": {\"workdir\": \"work\"}}", EINVAL,
		     "config.workdir: expected an absolute path");
	expect_error("{\"config\": {\"workdir\": 3}}", EINVAL, "config.workdir: expected a string");
	expect_error("{\"config\": {\"workdir\": \"\"}}", EINVAL,
		     "config.workdir: expected an absolute path");
}

static void stores_labels_as_key_value_and_checks_them(void **state)
{
	struct lr_layer_meta m;
	parse_ok(&m, "{\"config\": {\"labels\": {\"a\": \"1\", \"b\": \"x=y\"}}}");
	assert_strv(&m.config.labels, (const char *[]){"a=1", "b=x=y", NULL});
	lr_layer_meta_free(&m);
	expect_error("{\"config\": {\"labels\": {\"a\": 1}}}", EINVAL,
		     "config.labels.\"a\": expected a string");
	expect_error("{\"config\": {\"labels\": {\"a=b\": \"1\"}}}", EINVAL,
		     "config.labels.\"a=b\": key must be 1 to 65536 bytes without '='");
	expect_error("{\"config\": {\"labels\": {\"\": \"1\"}}}", EINVAL, "key must be");
	expect_error("{\"config\": {\"labels\": [\"a=1\"]}}", EINVAL,
		     "config.labels: expected an object of strings");
}

static void keeps_provenance_as_compact_json(void **state)
{
	struct lr_layer_meta m;
	parse_ok(
		&m,
		"{\"provenance\": {\"tool\": \"labrun-image\",\n \"inputs\": [1, {\"a\": null}]}}");
	assert_string_equal(m.provenance_json,
			    "{\"tool\":\"labrun-image\",\"inputs\":[1,{\"a\":null}]}");
	lr_layer_meta_free(&m);
	expect_error("{\"provenance\": \"built by hand\"}", EINVAL,
		     "provenance: expected an object");
}

/* A config as lr_layer_meta_json() is handed it by import, build or
 * config: n entries of each vector, each string len bytes. */
static void config_of(struct lr_layer_meta *m, size_t n_args, size_t n_env, size_t n_labels,
		      size_t len)
{
	memset(m, 0, sizeof(*m));
	char *s = malloc(len + 16);
	assert_non_null(s);
	memset(s, 'x', len + 15);
	s[len] = '\0';
	m->config.has_cmd = true;
	for (size_t i = 0; i < n_args; i++)
		assert_int_equal(lr_strv_push(&m->config.cmd, s), 0);
	for (size_t i = 0; i < n_env; i++) {
		char kv[32];
		snprintf(kv, sizeof(kv), "K%zu=v", i);
		assert_int_equal(lr_strv_setenv(&m->config.env, kv), 0);
	}
	for (size_t i = 0; i < n_labels; i++) {
		char kv[32];
		snprintf(kv, sizeof(kv), "l%zu=v", i);
		assert_int_equal(lr_strv_setenv(&m->config.labels, kv), 0);
	}
	free(s);
}

static void expect_write_refused(struct lr_layer_meta *m, const char *want)
{
	struct lr_error err = {0};
	char *json = lr_layer_meta_json(m, &err);
	if (json)
		fail_msg("wrote a layer.json labrun cannot read (want \"%s\")", want);
	assert_int_equal(err.code, E2BIG);
	if (!strstr(err.msg, want))
		fail_msg("message \"%s\" does not say \"%s\"", err.msg, want);
	lr_image_config_free(&m->config);
}

/* Found by tests/fuzz/fuzz_import.c: import wrote the config layer of an
 * image config with 1,100 Env entries or a 70,000-byte Cmd, and then
 * every run of the image failed on its layer.json. */
static void meta_json_refuses_what_layer_json_could_not_read_back(void **state)
{
	struct lr_layer_meta m;
	config_of(&m, 0, LR_IMAGECONFIG_MAX_ENV + 1, 0, 1);
	expect_write_refused(&m, "config.env: 1025 entries, more than the 1024");
	config_of(&m, LR_IMAGECONFIG_MAX_ARGS + 1, 0, 0, 1);
	expect_write_refused(&m, "config.cmd: 257 entries, more than the 256");
	config_of(&m, 0, 0, LR_IMAGECONFIG_MAX_LABELS + 1, 1);
	expect_write_refused(&m, "config.labels: 257 entries, more than the 256");
	config_of(&m, 1, 0, 0, LR_IMAGECONFIG_MAX_STRING + 1);
	expect_write_refused(&m, "config.cmd[0]: 65537 bytes, more than the 65536");
}

static void meta_json_at_the_limits_reads_back(void **state)
{
	struct lr_layer_meta m, back;
	config_of(&m, LR_IMAGECONFIG_MAX_ARGS, LR_IMAGECONFIG_MAX_ENV, LR_IMAGECONFIG_MAX_LABELS,
		  8);
	struct lr_error err = {0};
	char *json = lr_layer_meta_json(&m, &err);
	assert_non_null(json);
	assert_int_equal(lr_layer_meta_parse(&back, json, strlen(json), &err), 0);
	assert_int_equal(back.config.cmd.n, LR_IMAGECONFIG_MAX_ARGS);
	assert_int_equal(back.config.env.n, LR_IMAGECONFIG_MAX_ENV);
	assert_int_equal(back.config.labels.n, LR_IMAGECONFIG_MAX_LABELS);
	lr_layer_meta_free(&back);
	free(json);
	lr_image_config_free(&m.config);
	config_of(&m, 1, 0, 0, LR_IMAGECONFIG_MAX_STRING);
	json = lr_layer_meta_json(&m, &err);
	assert_non_null(json);
	assert_int_equal(lr_layer_meta_parse(&back, json, strlen(json), &err), 0);
	lr_layer_meta_free(&back);
	free(json);
	lr_image_config_free(&m.config);
}

static void free_accepts_zeroed_structs(void **state)
{
	struct lr_layer_meta m;
	memset(&m, 0, sizeof(m));
	lr_layer_meta_free(&m);
	lr_layer_meta_free(NULL);
	lr_image_config_free(NULL);
	lr_strv_free(NULL);
}

/* ------------------------------------------------------------ merge */

/* Merge layer documents base..top (NULL-terminated) into one config. */
static void merge_docs(struct lr_image_config *out, const char *const *docs)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; docs[i]; i++) {
		struct lr_layer_meta m;
		struct lr_error err = {0};
		parse_ok(&m, docs[i]);
		assert_int_equal(lr_image_config_merge(out, &m.config, &err), 0);
		lr_layer_meta_free(&m);
	}
}

static void merge_takes_entrypoint_and_cmd_from_top_when_set(void **state)
{
	struct lr_image_config c;
	merge_docs(&c,
		   (const char *[]){
			   "{\"config\": {\"entrypoint\": [\"/base\"], \"cmd\": [\"base\"]}}",
			   "{\"config\": {\"entrypoint\": [\"/top\"], \"cmd\": [\"top\", \"x\"]}}",
			   NULL});
	assert_strv(&c.entrypoint, (const char *[]){"/top", NULL});
	assert_strv(&c.cmd, (const char *[]){"top", "x", NULL});
	lr_image_config_free(&c);
}

static void merge_keeps_base_cmd_when_top_sets_only_entrypoint(void **state)
{
	struct lr_image_config c;
	merge_docs(&c, (const char *[]){"{\"config\": {\"cmd\": [\"base\"]}}",
					"{\"config\": {\"entrypoint\": [\"/top\"]}}", NULL});
	assert_true(c.has_entrypoint);
	assert_strv(&c.entrypoint, (const char *[]){"/top", NULL});
	assert_true(c.has_cmd);
	assert_strv(&c.cmd, (const char *[]){"base", NULL});
	lr_image_config_free(&c);
}

static void merge_clears_with_null_and_keeps_what_top_leaves_out(void **state)
{
	struct lr_image_config c;
	merge_docs(&c, (const char *[]){"{\"config\": {\"entrypoint\": [\"/e\"], \"cmd\": [\"c\"], "
					"\"workdir\": \"/base\"}}",
					"{\"config\": {\"cmd\": null}}", NULL});
	assert_true(c.has_entrypoint);
	assert_strv(&c.entrypoint, (const char *[]){"/e", NULL});
	assert_true(c.has_cmd);
	assert_strv(&c.cmd, (const char *[]){NULL});
	assert_string_equal(c.workdir, "/base");
	lr_image_config_free(&c);
}

static void merge_takes_workdir_from_top_when_set(void **state)
{
	struct lr_image_config c;
	merge_docs(&c, (const char *[]){"{\"config\": {\"workdir\": \"/base\"}}",
					"{\"config\": {\"workdir\": \"/top\"}}", "{}", NULL});
	assert_string_equal(c.workdir, "/top");
	lr_image_config_free(&c);
}

static void merge_env_by_key_top_wins_in_first_set_order(void **state)
{
	struct lr_image_config c;
	merge_docs(&c, (const char *[]){"{\"config\": {\"env\": [\"A=base\", \"B=base\"]}}",
					"{\"config\": {\"env\": [\"C=top\", \"B=top\"]}}", NULL});
	assert_strv(&c.env, (const char *[]){"A=base", "B=top", "C=top", NULL});
	lr_image_config_free(&c);
}

static void merge_labels_by_key_top_wins(void **state)
{
	struct lr_image_config c;
	merge_docs(&c, (const char *[]){"{\"config\": {\"labels\": {\"x\": \"1\", \"y\": \"1\"}}}",
					"{\"config\": {\"labels\": {\"y\": \"2\", \"z\": \"2\"}}}",
					NULL});
	assert_strv(&c.labels, (const char *[]){"x=1", "y=2", "z=2", NULL});
	lr_image_config_free(&c);
}

static void merge_over_the_env_limit_fails_and_leaves_base_alone(void **state)
{
	struct lr_image_config base, top;
	memset(&base, 0, sizeof(base));
	memset(&top, 0, sizeof(top));
	char kv[32];
	for (int i = 0; i < LR_IMAGECONFIG_MAX_ENV; i++) {
		snprintf(kv, sizeof(kv), "BASE%d=1", i);
		assert_int_equal(lr_strv_push(&base.env, kv), 0);
	}
	assert_int_equal(lr_strv_push(&base.cmd, "keep"), 0);
	base.has_cmd = true;
	assert_int_equal(lr_strv_push(&top.env, "BASE0=2"), 0); /* a replacement fits */
	struct lr_error err = {0};
	assert_int_equal(lr_image_config_merge(&base, &top, &err), 0);
	assert_string_equal(lr_strv_getenv(&base.env, "BASE0"), "2");
	assert_int_equal(lr_strv_push(&top.env, "NEW=1"), 0); /* one more does not */
	char **env_before = base.env.v;
	assert_int_equal(lr_image_config_merge(&base, &top, &err), -E2BIG);
	assert_string_equal(err.msg, "env: more than 1024 entries");
	assert_ptr_equal(base.env.v, env_before);
	assert_int_equal(base.env.n, LR_IMAGECONFIG_MAX_ENV);
	assert_string_equal(base.cmd.v[0], "keep");
	lr_image_config_free(&base);
	lr_image_config_free(&top);
}

/* ------------------------------------------------------------ strv */

static void strv_push_copies_and_keeps_null_termination(void **state)
{
	struct lr_strv v = {0};
	char s[] = "one";
	assert_int_equal(lr_strv_push(&v, s), 0);
	s[0] = 'X';
	assert_int_equal(lr_strv_push(&v, "two"), 0);
	assert_strv(&v, (const char *[]){"one", "two", NULL});
	lr_strv_free(&v);
	assert_null(v.v);
	assert_int_equal(v.n, 0);
}

static void strv_setenv_replaces_by_key_and_appends_new_keys(void **state)
{
	struct lr_strv v = {0};
	assert_int_equal(lr_strv_setenv(&v, "A=1"), 0);
	assert_int_equal(lr_strv_setenv(&v, "AB=2"), 0);
	assert_int_equal(lr_strv_setenv(&v, "A=3"), 0);
	assert_strv(&v, (const char *[]){"A=3", "AB=2", NULL});
	lr_strv_free(&v);
}

static void strv_setenv_rejects_entries_without_a_key(void **state)
{
	struct lr_strv v = {0};
	assert_int_equal(lr_strv_setenv(&v, "NOEQUALS"), -EINVAL);
	assert_int_equal(lr_strv_setenv(&v, "=x"), -EINVAL);
	assert_int_equal(v.n, 0);
	lr_strv_free(&v);
}

static void strv_getenv_matches_whole_keys_only(void **state)
{
	struct lr_strv v = {0};
	assert_int_equal(lr_strv_setenv(&v, "PATHX=/no"), 0);
	assert_int_equal(lr_strv_setenv(&v, "PATH=/usr/bin"), 0);
	assert_string_equal(lr_strv_getenv(&v, "PATH"), "/usr/bin");
	assert_null(lr_strv_getenv(&v, "PAT"));
	assert_null(lr_strv_getenv(&v, "HOME"));
	lr_strv_free(&v);
}

int main(void)
{
	cmocka_set_message_output(CM_OUTPUT_TAP);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_a_full_document),
		cmocka_unit_test(parses_an_empty_object_as_nothing_set),
		cmocka_unit_test(rejects_bad_parent_digests),
		cmocka_unit_test(null_entrypoint_clears_while_absent_leaves_unset),
		cmocka_unit_test(rejects_arguments_that_are_not_strings),
		cmocka_unit_test(rejects_malformed_env_entries_naming_their_index),
		cmocka_unit_test(later_env_duplicates_replace_earlier_in_place),
		cmocka_unit_test(rejects_duplicate_keys),
		cmocka_unit_test(rejects_nul_bytes_in_strings_naming_their_path),
		cmocka_unit_test(rejects_a_raw_nul_byte_in_the_document),
		cmocka_unit_test(accepts_env_up_to_the_limit_and_rejects_more),
		cmocka_unit_test(rejects_more_arguments_than_the_limit),
		cmocka_unit_test(rejects_more_labels_than_the_limit),
		cmocka_unit_test(rejects_a_string_longer_than_the_limit),
		cmocka_unit_test(rejects_a_document_larger_than_the_limit),
		cmocka_unit_test(rejects_a_top_level_that_is_not_an_object),
		cmocka_unit_test(reports_invalid_json_with_its_position),
		cmocka_unit_test(rejects_a_config_that_is_not_an_object),
		cmocka_unit_test(requires_an_absolute_workdir),
		cmocka_unit_test(stores_labels_as_key_value_and_checks_them),
		cmocka_unit_test(keeps_provenance_as_compact_json),
		cmocka_unit_test(meta_json_refuses_what_layer_json_could_not_read_back),
		cmocka_unit_test(meta_json_at_the_limits_reads_back),
		cmocka_unit_test(free_accepts_zeroed_structs),
		cmocka_unit_test(merge_takes_entrypoint_and_cmd_from_top_when_set),
		cmocka_unit_test(merge_keeps_base_cmd_when_top_sets_only_entrypoint),
		cmocka_unit_test(merge_clears_with_null_and_keeps_what_top_leaves_out),
		cmocka_unit_test(merge_takes_workdir_from_top_when_set),
		cmocka_unit_test(merge_env_by_key_top_wins_in_first_set_order),
		cmocka_unit_test(merge_labels_by_key_top_wins),
		cmocka_unit_test(merge_over_the_env_limit_fails_and_leaves_base_alone),
		cmocka_unit_test(strv_push_copies_and_keeps_null_termination),
		cmocka_unit_test(strv_setenv_replaces_by_key_and_appends_new_keys),
		cmocka_unit_test(strv_setenv_rejects_entries_without_a_key),
		cmocka_unit_test(strv_getenv_matches_whole_keys_only),
	};
	return cmocka_run_group_tests_name("imageconfig", tests, NULL, NULL);
}
