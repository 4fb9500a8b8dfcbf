#include "db/collate_key.h"

#include <simdjson.h>

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "db/json.h"
#include "db/mango_value.h"

using settee::db::appendCollationKey;
using settee::db::collate;
using settee::db::collateStrings;
using settee::db::MangoValue;

namespace {

std::string keyOf(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  REQUIRE(parser.parse(json.data(), json.size()).get(e) == simdjson::SUCCESS);
  std::string out;
  appendCollationKey(e, out);
  return out;
}

int sign(int c) { return (c > 0) - (c < 0); }

// collate() of two JSON texts, as the matcher compares a document's value with an operand.
int collateJson(std::string_view a, std::string_view b) {
  simdjson::dom::parser pa, pb;
  simdjson::dom::element ea, eb;
  REQUIRE(pa.parse(a.data(), a.size()).get(ea) == simdjson::SUCCESS);
  REQUIRE(pb.parse(b.data(), b.size()).get(eb) == simdjson::SUCCESS);
  return sign(collate(ea, MangoValue::copyOf(eb)));
}

// A random JSON value from a small alphabet, so that equal and near-equal values are frequent.
std::string randomJson(std::mt19937& rng, int depth) {
  static const char* strings[] = {"\"\"",    "\"a\"",   "\"A\"",  "\"aa\"",
                                  "\"b\"",   "\"B\"",   "\"ba\"", "\"\xc3\xa1\"",
                                  "\"a b\"", "\"a-b\"", "\"1\"",  "\"\xe6\x97\xa5\""};
  static const char* numbers[] = {"0", "-0", "1", "1.0", "-1", "2.5", "-2.5", "1e300", "-1e-300", "100", "7"};
  int kind = std::uniform_int_distribution<int>(0, depth > 0 ? 6 : 4)(rng);
  switch (kind) {
    case 0:
      return std::uniform_int_distribution<int>(0, 2)(rng) == 0 ? "null"
             : std::uniform_int_distribution<int>(0, 1)(rng)    ? "true"
                                                                : "false";
    case 1:
    case 2:
      return numbers[std::uniform_int_distribution<size_t>(0, std::size(numbers) - 1)(rng)];
    case 3:
    case 4:
      return strings[std::uniform_int_distribution<size_t>(0, std::size(strings) - 1)(rng)];
    case 5: {
      std::string out = "[";
      int n = std::uniform_int_distribution<int>(0, 3)(rng);
      for (int i = 0; i < n; ++i) out += (i ? "," : "") + randomJson(rng, depth - 1);
      return out + "]";
    }
    default: {
      std::string out = "{";
      int n = std::uniform_int_distribution<int>(0, 3)(rng);
      for (int i = 0; i < n; ++i)
        out += std::string(i ? "," : "") + strings[std::uniform_int_distribution<size_t>(0, 4)(rng)] + ":" +
               randomJson(rng, depth - 1);
      return out + "}";
    }
  }
}

}  // namespace

TEST_CASE("Collation keys: CouchDB's Views Collation table is in ascending key order", "[db][collate]") {
  // docs.couchdb.org, "Views Collation", the example list of keys in order.
  const std::vector<std::string> ordered = {"null",
                                            "false",
                                            "true",
                                            "1",
                                            "2",
                                            "3.0",
                                            "4",
                                            R"("a")",
                                            R"("A")",
                                            R"("aa")",
                                            R"("b")",
                                            R"("B")",
                                            R"("ba")",
                                            R"("bb")",
                                            R"(["a"])",
                                            R"(["b"])",
                                            R"(["b","c"])",
                                            R"(["b","c","a"])",
                                            R"(["b","d"])",
                                            R"(["b","d","e"])",
                                            R"({"a":1})",
                                            R"({"a":2})",
                                            R"({"b":1})",
                                            R"({"b":2})",
                                            R"({"b":2,"a":1})",
                                            R"({"b":2,"c":2})"};
  for (size_t i = 0; i + 1 < ordered.size(); ++i) {
    INFO(ordered[i] << " < " << ordered[i + 1]);
    CHECK(keyOf(ordered[i]) < keyOf(ordered[i + 1]));
    CHECK(collateJson(ordered[i], ordered[i + 1]) < 0);
  }
}

TEST_CASE("Collation keys: numbers by value, -0 equal to 0, 1 equal to 1.0", "[db][collate]") {
  CHECK(keyOf("1") == keyOf("1.0"));
  CHECK(keyOf("-0") == keyOf("0"));
  CHECK(keyOf("-0.0") == keyOf("0"));
  CHECK(keyOf("-1e300") < keyOf("-2"));
  CHECK(keyOf("-2") < keyOf("-1.5"));
  CHECK(keyOf("-1.5") < keyOf("-1e-300"));
  CHECK(keyOf("-1e-300") < keyOf("0"));
  CHECK(keyOf("0") < keyOf("1e-300"));
  CHECK(keyOf("1e-300") < keyOf("0.5"));
  CHECK(keyOf("0.5") < keyOf("9007199254740993"));
  CHECK(keyOf("9007199254740993") < keyOf("1e300"));
}

TEST_CASE("Collation keys: strings in ICU root order, accents after their base letter", "[db][collate]") {
  CHECK(keyOf(R"("a")") < keyOf("\"\xc3\xa1\""));  // a < á
  CHECK(keyOf("\"\xc3\xa1\"") < keyOf(R"("b")"));  // á < b
  CHECK(keyOf(R"("")") < keyOf(R"("a")"));
  CHECK(keyOf(R"("a")") < keyOf(R"("ab")"));       // a prefix first
  CHECK(keyOf(R"("Z")") < keyOf("\"\xce\xb1\""));  // Latin before Greek
  // Canonically equivalent spellings (precomposed é, e + combining acute) are one key.
  CHECK(keyOf("\"\xc3\xa9\"") == keyOf("\"e\xcc\x81\""));
  CHECK(collateStrings("a", "B") < 0);
  CHECK(collateStrings("B", "a") > 0);
  CHECK(collateStrings("\xc3\xa9", "e\xcc\x81") == 0);
  CHECK(collateStrings("same", "same") == 0);
}

TEST_CASE("Collation keys: the matcher's $gt and $lt order strings as ICU does", "[db][collate][mango]") {
  CHECK(collateJson(R"("a")", R"("B")") < 0);  // code point order would say "B" < "a"
  CHECK(collateJson(R"("B")", R"("b")") > 0);
  CHECK(collateJson(R"({"a":1})", R"({"B":1})") < 0);  // object keys too
}

TEST_CASE("Collation keys: no key is a prefix of a greater one, so compound keys compare field by field",
          "[db][collate]") {
  // [x1, x2] vs [y1, y2] as the concatenation of their keys, against collate() field by field.
  std::mt19937 rng(12345);
  for (int i = 0; i < 3000; ++i) {
    std::string a1 = randomJson(rng, 2), a2 = randomJson(rng, 1), b1 = randomJson(rng, 2),
                b2 = randomJson(rng, 1);
    if (i % 3 == 0) b1 = a1;  // make the second field decide often
    int expected = collateJson(a1, b1);
    if (expected == 0) expected = collateJson(a2, b2);
    std::string ka = keyOf(a1) + keyOf(a2), kb = keyOf(b1) + keyOf(b2);
    INFO("[" << a1 << ", " << a2 << "] vs [" << b1 << ", " << b2 << "]");
    CHECK(sign(ka.compare(kb)) == expected);
  }
}

TEST_CASE("Collation keys: key order equals collate() order on random JSON values", "[db][collate]") {
  std::mt19937 rng(2026);
  for (int i = 0; i < 5000; ++i) {
    std::string a = randomJson(rng, 3), b = randomJson(rng, 3);
    INFO(a << " vs " << b);
    CHECK(sign(keyOf(a).compare(keyOf(b))) == collateJson(a, b));
  }
}

TEST_CASE("Collation keys: a MangoValue operand has the key of the JSON it was read from", "[db][collate]") {
  for (const char* json : {"null", "true", "-3.5", R"("x")", R"([1,"a",[null]])", R"({"k":{"j":[]}})"}) {
    simdjson::dom::parser parser;
    simdjson::dom::element e;
    REQUIRE(parser.parse(json, std::strlen(json)).get(e) == simdjson::SUCCESS);
    std::string fromElement, fromValue;
    appendCollationKey(e, fromElement);
    appendCollationKey(MangoValue::copyOf(e), fromValue);
    CHECK(fromElement == fromValue);
  }
}
