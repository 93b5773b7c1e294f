/* test_text_fold.c - db_text_fold, the folding behind the API's search "with or without diacritics":
 * every Vietnamese letter (the 67 lower-case and 67 upper-case letters with a tone mark or a hat, horn or
 * breve, and đ/Đ) folds to its base letter, decomposed text (combining marks) folds like precomposed
 * text, and whatever is not a Latin letter with a diacritic, invalid UTF-8 included, stays as it was. */
#include <string.h>

#include "testutil.h"

#include "base/mem.h"
#include "base/text.h"

/* The folding of s, owned. */
static char *fold(const char *s) {
  size_t n = strlen(s);
  char *out = db_malloc(n + 1);
  size_t len = db_text_fold(s, n, out);
  assert_int_equal(len, strlen(out));
  assert_true(len <= n);
  return out;
}

static void assert_folds(const char *in, const char *want) {
  char *got = fold(in);
  assert_string_equal(got, want);
  db_free(got);
}

static void test_phrase(void **state) {
  (void)state;
  assert_folds("Chỉ số giá tiêu dùng", "chi so gia tieu dung");
  assert_folds("chi so gia", "chi so gia");
  assert_folds("Thành phố Hồ Chí Minh", "thanh pho ho chi minh");
  assert_folds("Phường Sài Gòn, Đặc khu Côn Đảo", "phuong sai gon, dac khu con dao");
  assert_folds("Tổng mức bán lẻ hàng hóa", "tong muc ban le hang hoa");
  assert_folds("CPI_YOY", "cpi_yoy");
  assert_folds("", "");
}

static void test_every_lower_case_letter(void **state) {
  (void)state;
  assert_folds("aàáảãạăằắẳẵặâầấẩẫậ", "aaaaaaaaaaaaaaaaaa");
  assert_folds("eèéẻẽẹêềếểễệ", "eeeeeeeeeeee");
  assert_folds("iìíỉĩị", "iiiiii");
  assert_folds("oòóỏõọôồốổỗộơờớởỡợ", "oooooooooooooooooo");
  assert_folds("uùúủũụưừứửữự", "uuuuuuuuuuuu");
  assert_folds("yỳýỷỹỵ", "yyyyyy");
  assert_folds("dđ", "dd");
}

static void test_every_upper_case_letter(void **state) {
  (void)state;
  assert_folds("AÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬ", "aaaaaaaaaaaaaaaaaa");
  assert_folds("EÈÉẺẼẸÊỀẾỂỄỆ", "eeeeeeeeeeee");
  assert_folds("IÌÍỈĨỊ", "iiiiii");
  assert_folds("OÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢ", "oooooooooooooooooo");
  assert_folds("UÙÚỦŨỤƯỪỨỬỮỰ", "uuuuuuuuuuuu");
  assert_folds("YỲÝỶỸỴ", "yyyyyy");
  assert_folds("DĐ", "dd");
}

/* The whole Vietnamese block U+1EA0..U+1EF9, code point by code point: 24 a, 16 e, 4 i, 24 o, 14 u,
 * 8 y, so a gap or an overlap in the ranges shows. */
static void test_vietnamese_block(void **state) {
  (void)state;
  char want[91], in[4], out[4];
  memset(want, 0, sizeof want);
  memset(want, 'a', 24);
  memset(want + 24, 'e', 16);
  memset(want + 40, 'i', 4);
  memset(want + 44, 'o', 24);
  memset(want + 68, 'u', 14);
  memset(want + 82, 'y', 8);
  for (unsigned cp = 0x1EA0; cp <= 0x1EF9; cp++) {
    in[0] = (char)(0xE0 | cp >> 12);
    in[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    in[2] = (char)(0x80 | (cp & 0x3F));
    in[3] = '\0';
    assert_int_equal(db_text_fold(in, 3, out), 1);
    assert_int_equal(out[0], want[cp - 0x1EA0]);
  }
}

/* Decomposed text (base letter + combining marks, as macOS and some keyboards write it) folds like
 * precomposed text. */
static void test_decomposed(void **state) {
  (void)state;
  /* "Chỉ số" as C, h, i + U+0309 (hook above), space, s, o + U+0302 (circumflex) + U+0301 (acute) */
  assert_folds("Chi\xcc\x89 so\xcc\x82\xcc\x81", "chi so");
  /* "Nước mới ặ": ư and ơ as u/o + U+031B (horn), ă as a + U+0306 (breve), with U+0323 (dot below) */
  assert_folds("Nu\xcc\x9bo\xcc\x9b\xcc\x81\x63 mo\xcc\x9b\xcc\x81i a\xcc\x86\xcc\xa3", "nuoc moi a");
}

static void test_other_letters(void **state) {
  (void)state;
  assert_folds("Ça, résumé, niño, Ångström", "ca, resume, nino, angstrom");
  /* no base letter: kept as they are (only ASCII is lower-cased) */
  assert_folds("Æ × ß € 日本 😀 Ω", "Æ × ß € 日本 😀 Ω");
}

static void test_invalid_utf8_is_copied(void **state) {
  (void)state;
  assert_folds("\xff" "A\xc3(" "B\xe1\xbb", "\xff" "a\xc3(" "b\xe1\xbb");
  /* an overlong encoding of 'A' and a surrogate are not letters */
  assert_folds("\xc1\x81\xed\xa0\x80", "\xc1\x81\xed\xa0\x80");
  /* folding stops at n, not at a NUL */
  char out[8];
  assert_int_equal(db_text_fold("Ế\0Ế", 7, out), 3);
  assert_memory_equal(out, "e\0e", 4);
}

/* What the search does: fold both sides and look for the query inside the name. */
static void test_search_either_way(void **state) {
  (void)state;
  char *name = fold("Chỉ số giá tiêu dùng (CPI) so với cùng kỳ");
  char *with = fold("chỉ số GIÁ"), *without = fold("chi so gia"), *other = fold("chi so gio");
  assert_non_null(strstr(name, with));
  assert_non_null(strstr(name, without));
  assert_null(strstr(name, other));
  db_free(name);
  db_free(with);
  db_free(without);
  db_free(other);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_phrase),
      cmocka_unit_test(test_every_lower_case_letter),
      cmocka_unit_test(test_every_upper_case_letter),
      cmocka_unit_test(test_vietnamese_block),
      cmocka_unit_test(test_decomposed),
      cmocka_unit_test(test_other_letters),
      cmocka_unit_test(test_invalid_utf8_is_copied),
      cmocka_unit_test(test_search_either_way),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
