// The JSON writer helpers (db/json.h): whatever text they are given, what they write is valid JSON that
// reads back as the same text.
#include "db/json.h"

#include <simdjson.h>

#include <catch2/catch.hpp>
#include <string>

#include "db/document.h"

using namespace settee;

namespace {

// `text` written as a JSON string and read back with simdjson; nullopt when the output is not JSON.
std::optional<std::string> roundTrip(const std::string& text) {
  db::JsonBuffer buf;
  db::JsonWriter w(buf);
  db::writeString(w, text);
  simdjson::dom::parser parser;
  std::string_view back;
  std::string json(db::bufferView(buf));
  if (parser.parse(json).get(back)) return std::nullopt;
  return std::string(back);
}

}  // namespace

// Found by tools/fuzz (bulk_get): RapidJSON 1.1.0's SSE2 scanner tests `c <= 0x19` where it means
// `c < 0x20`, so 0x1A-0x1F in a 16-byte block of a long string were written raw, making invalid JSON.
TEST_CASE("JSON writer: every control character is escaped at any position of a long string", "[db][json]") {
  for (int c = 0; c < 0x20; ++c) {
    for (size_t at = 0; at < 48; ++at) {
      std::string text(64, 'x');
      text[at] = static_cast<char>(c);
      INFO("character " << c << " at " << at);
      auto back = roundTrip(text);
      REQUIRE(back);
      CHECK(*back == text);
    }
  }
}

TEST_CASE("JSON writer: a document body holding control characters is stored as valid JSON", "[db][json]") {
  std::string value(40, 'v');
  value[20] = '\x1e';
  db::JsonBuffer in;
  db::JsonWriter w(in);
  w.StartObject();
  db::writeKey(w, "_id");
  db::writeString(w, "a");
  db::writeKey(w, std::string(33, 'k') + "\x1f");
  db::writeString(w, value);
  w.EndObject();
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  REQUIRE_FALSE(parser.parse(std::string(db::bufferView(in))).get(root));
  auto doc = db::parseDocument(root);
  REQUIRE(doc);
  simdjson::dom::parser again;
  simdjson::dom::object body;
  REQUIRE_FALSE(again.parse(doc->body).get(body));
  std::string_view stored;
  REQUIRE_FALSE(body[std::string(33, 'k') + "\x1f"].get(stored));
  CHECK(stored == value);
}
